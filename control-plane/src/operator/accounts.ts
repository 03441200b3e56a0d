import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import { constantTimeEqual, sha256Hex, Timestamp } from "#protocol";
import { ROLES, Scope } from "../access/roles.ts";
import type { AuditLog } from "../audit.ts";
import { ControlPlaneError } from "../errors.ts";
import { tokenId } from "../middleware/admin-auth/index.ts";
import type { ApiTokenRecord, OperatorRecord, SessionRecord, Store } from "../store/index.ts";
import { enrolAtCreation, type MfaDeps, type ShownSecret } from "./mfa.ts";
import { generatePassword, hashPassword } from "./password.ts";
import { signInSubject } from "./sign-in.ts";

/**
 * Operator management, one set of functions for the command line, the admin API and the
 * dashboard: create, disable and enable, change role and scope, reset a password, unlock
 * (clear throttled sign-in failures), list and end sessions, and named API tokens. Each change
 * is an audit event with the actor who made it, and a scope naming a tenant that does not
 * exist is refused (400, naming `scope`).
 */
export interface AccountDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly now: () => Date;
}

export const Username = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lower-case letters, digits, '.', '_' or '-'");
export const TokenName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-'");
/** The reach of a new operator or token; an auditor's also needs a window. */
export const Grant = z.strictObject({
  role: z.enum(ROLES),
  scope: Scope,
  expires_at: Timestamp.nullable().optional(),
});
export type Grant = z.infer<typeof Grant>;

/** A grant's fields as text (a form, command-line flags): tenants are "all" or a comma list. */
export interface GrantText {
  readonly role?: string | undefined;
  readonly tenants?: string | undefined;
  readonly window_from?: string | undefined;
  readonly window_to?: string | undefined;
  readonly expires_at?: string | undefined;
}

/** A grant from text; a bad one is a 400 naming its field as the text named it. */
export function parseGrant(text: GrantText): Grant {
  const tenants = (text.tenants ?? "all").trim();
  const from = text.window_from?.trim() || undefined;
  const to = text.window_to?.trim() || undefined;
  const parsed = Grant.safeParse({
    role: text.role,
    scope: {
      tenants: tenants === "all" || tenants === "*" ? "*" : tenants.split(",").map((t) => t.trim()),
      ...(from !== undefined || to !== undefined ? { window: { from, to } } : {}),
    },
    ...(text.expires_at?.trim() ? { expires_at: text.expires_at.trim() } : {}),
  });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  const field =
    path[0] === "scope"
      ? path[1] === "window"
        ? `window_${String(path[2])}`
        : "tenants"
      : String(path[0] ?? "grant");
  throw bad(`${field}: ${issue?.message ?? "invalid"}`);
}

/** Days a token made without an expiry lasts; the one `init` prints too. */
export const DEFAULT_TOKEN_DAYS = 90;
const MIN_PASSWORD = 12;

const bad = (message: string) => new ControlPlaneError("invalid_request", message);

async function checkGrant(d: AccountDeps, grant: Grant): Promise<void> {
  const { role, scope } = grant;
  if (role === "admin" && scope.tenants !== "*")
    throw bad('scope: an admin reaches every tenant ("*")');
  if (role === "auditor" && !scope.window) throw bad("scope: an auditor needs a window (from, to)");
  if (scope.window && Date.parse(scope.window.from) >= Date.parse(scope.window.to))
    throw bad("scope: the window must end after it starts");
  if (scope.tenants !== "*") {
    const known = new Set(await d.store.listTenantIds());
    const unknown = scope.tenants.filter((t) => !known.has(t));
    if (unknown.length > 0) throw bad(`scope: unknown tenant ${unknown.join(", ")}`);
  }
}

async function find(d: AccountDeps, username: string): Promise<OperatorRecord> {
  const o = await d.store.getOperatorByName(username);
  if (!o) throw new ControlPlaneError("not_found", "no such operator");
  return o;
}

/** What listings show of an operator: never the password hash. */
export const describeOperator = (o: OperatorRecord) => ({
  username: o.username,
  role: o.role,
  scope: o.scope,
  expires_at: o.expiresAt,
  disabled: o.disabledAt !== null,
});

/** A session as listings show it: a prefix of its id's hash names it. */
export const describeSession = (s: SessionRecord) => ({
  session: s.idHash.slice(0, 16),
  created_at: s.createdAt ?? null,
  last_seen_at: s.lastSeenAt ?? null,
  expires_at: s.expiresAt,
});

/** A token as listings show it: its name and id (its hash), never the token. */
export const describeToken = (t: ApiTokenRecord) => ({
  token_id: tokenId(t.tokenHash),
  name: t.label,
  role: t.role,
  scope: t.scope,
  created_at: t.createdAt,
  created_by: t.createdBy,
  expires_at: t.expiresAt,
  last_used_at: t.lastUsedAt,
  revoked: t.revokedAt !== null,
});

export async function createAccount(
  d: AccountDeps,
  actor: string,
  input: { username: string; grant: Grant; password?: string | undefined },
): Promise<{ password: string }> {
  if (!Username.safeParse(input.username).success)
    throw bad("username: lower-case letters, digits, '.', '_' or '-'");
  await checkGrant(d, input.grant);
  const password = input.password ?? generatePassword();
  if (password.length < MIN_PASSWORD) throw bad(`password: at least ${MIN_PASSWORD} characters`);
  const created = await d.store.createOperator(
    {
      operatorId: randomUUID(),
      username: input.username,
      passwordHash: await hashPassword(password),
      role: input.grant.role,
      scope: input.grant.scope,
      expiresAt: input.grant.expires_at ?? null,
    },
    d.now().toISOString(),
  );
  if (!created) throw new ControlPlaneError("conflict", "an operator with that name exists");
  await d.audit.record(actor, "operator.created", input.username, {
    role: input.grant.role,
    scope: input.grant.scope,
    expires_at: input.grant.expires_at ?? null,
  });
  return { password };
}

/**
 * `createAccount` for every surface: the password and, for a role that needs a second factor,
 * its TOTP secret, both shown once.
 */
export async function createAccountWithMfa(
  d: MfaDeps,
  actor: string,
  input: Parameters<typeof createAccount>[2],
): Promise<{ password: string; totp?: ShownSecret }> {
  const { password } = await createAccount(d, actor, input);
  const totp = await enrolAtCreation(d, input.username);
  return totp ? { password, totp } : { password };
}

export async function changeGrant(
  d: AccountDeps,
  actor: string,
  username: string,
  grant: Grant,
): Promise<OperatorRecord> {
  const o = await find(d, username);
  await checkGrant(d, grant);
  await d.store.updateOperator(o.operatorId, {
    role: grant.role,
    scope: grant.scope,
    ...(grant.expires_at !== undefined ? { expiresAt: grant.expires_at } : {}),
  });
  await d.audit.record(actor, "operator.role_changed", username, {
    from: { role: o.role, scope: o.scope },
    to: { role: grant.role, scope: grant.scope, expires_at: grant.expires_at ?? o.expiresAt },
  });
  return find(d, username);
}

/** Disabling also ends every session of the account at once. */
export async function setDisabled(
  d: AccountDeps,
  actor: string,
  username: string,
  disabled: boolean,
): Promise<void> {
  const o = await find(d, username);
  if (disabled && actor === `operator:${username}`)
    throw new ControlPlaneError("conflict", "an operator cannot disable itself");
  await d.store.updateOperator(o.operatorId, {
    disabledAt: disabled ? d.now().toISOString() : null,
  });
  const ended = disabled ? await d.store.deleteSessionsOf(o.operatorId) : 0;
  await d.audit.record(actor, disabled ? "operator.disabled" : "operator.enabled", username, {
    sessions_ended: ended,
  });
}

/** A new generated password, shown once; the old one and every session stop working. */
export async function resetPassword(
  d: AccountDeps,
  actor: string,
  username: string,
): Promise<{ password: string }> {
  const o = await find(d, username);
  const password = generatePassword();
  await d.store.updateOperator(o.operatorId, { passwordHash: await hashPassword(password) });
  const ended = await d.store.deleteSessionsOf(o.operatorId);
  await d.audit.record(actor, "operator.password_reset", username, { sessions_ended: ended });
  return { password };
}

/** Clears the name's throttled sign-in failures from every address. */
export async function unlock(d: AccountDeps, actor: string, username: string): Promise<number> {
  await find(d, username);
  const cleared = await d.store.clearSignInFailuresOf(signInSubject(username));
  await d.audit.record(actor, "operator.unlocked", username, { cleared });
  return cleared;
}

export async function sessionsOf(d: AccountDeps, username: string): Promise<SessionRecord[]> {
  return d.store.listSessions((await find(d, username)).operatorId);
}

/** Ends one session (named by its listed prefix) or, without one, all of them. */
export async function endSessions(
  d: AccountDeps,
  actor: string,
  username: string,
  session?: string,
): Promise<number> {
  const o = await find(d, username);
  const ended = await d.store.deleteSessionsOf(o.operatorId, session);
  if (session !== undefined && ended === 0)
    throw new ControlPlaneError("not_found", "no such session");
  await d.audit.record(actor, "operator.sessions_revoked", username, {
    ...(session ? { session } : {}),
    ended,
  });
  return ended;
}

/**
 * A named API token, shown once: 32 random bytes, stored as its SHA-256, acting with `grant`,
 * expiring after `days` (default 90). Names are unique among live tokens.
 */
export async function createToken(
  d: AccountDeps,
  actor: string,
  input: { name: string; grant: Grant; days?: number | undefined },
): Promise<{ token: string; record: ApiTokenRecord }> {
  if (!TokenName.safeParse(input.name).success) throw bad("name: letters, digits, '.', '_' or '-'");
  await checkGrant(d, input.grant);
  const live = (await d.store.listAdminTokens()).filter((t) => t.revokedAt === null);
  if (live.some((t) => t.label === input.name))
    throw new ControlPlaneError("conflict", "a live token has that name");
  const now = d.now();
  const days = input.days ?? DEFAULT_TOKEN_DAYS;
  const expiresAt =
    input.grant.expires_at ?? new Date(now.getTime() + days * 86_400_000).toISOString();
  const token = randomBytes(32).toString("base64url");
  const tokenHash = sha256Hex(new TextEncoder().encode(token));
  await d.store.addAdminToken(
    {
      tokenHash,
      label: input.name,
      role: input.grant.role,
      scope: input.grant.scope,
      expiresAt,
      createdBy: actor,
    },
    now.toISOString(),
  );
  await d.audit.record(actor, "token.created", `${input.name}:${tokenId(tokenHash)}`, {
    role: input.grant.role,
    scope: input.grant.scope,
    expires_at: expiresAt,
  });
  const record = await d.store.findAdminToken(tokenHash);
  if (!record) throw new ControlPlaneError("internal", "the new token was not stored");
  return { token, record };
}

/** Revokes the live token whose whole hash is `id`, compared in constant time with each. */
export async function revokeToken(d: AccountDeps, actor: string, id: string): Promise<void> {
  let known: ApiTokenRecord | undefined;
  for (const t of await d.store.listAdminTokens()) {
    if (constantTimeEqual(tokenId(t.tokenHash), id)) known = t;
  }
  if (!known || !(await d.store.revokeAdminToken(known.tokenHash, d.now().toISOString())))
    throw new ControlPlaneError("not_found", "no such live token");
  await d.audit.record(actor, "token.revoked", `${known.label}:${id}`);
}
