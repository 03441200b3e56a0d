import { createHash, randomBytes } from "node:crypto";
import type { Context } from "hono";
import { setCookie } from "hono/cookie";
import type { Role } from "../access/roles.ts";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import {
  hashSecret,
  operatorActive,
  SESSION_COOKIE,
} from "../middleware/operator-session/index.ts";
import { byClientAddress } from "../middleware/rate-limit/index.ts";
import type { SignInFailures } from "../store/index.ts";
import { checkTotp, mfaRequired } from "./mfa.ts";
import { DUMMY_HASH, verifyPassword } from "./password.ts";

/** Failures of one name from one address before each further try must wait (1 s, 2 s, 4 s …). */
export const FREE_FAILURES = 5;
/** Failures of one name over all addresses in the window that mark it as under attack. */
export const UNDER_ATTACK_FAILURES = 50;
/** Under attack, each address gets this many failures before its delays start (never 0). */
const FREE_FAILURES_UNDER_ATTACK = 1;
/** Failures are forgotten this long after the last one; also the longest delay. */
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
const ALL_ADDRESSES = "*";

/**
 * How long an address must still wait before its next try of a name: none below the free
 * failures, then 1 s doubling per failure up to the window.
 */
export function throttleDelayMs(
  failures: SignInFailures | undefined,
  free: number,
  now: number,
): number {
  if (!failures || failures.failures < free) return 0;
  const last = Date.parse(failures.lastFailureAt);
  if (now - last >= FAILURE_WINDOW_MS) return 0;
  const delay = Math.min(FAILURE_WINDOW_MS, 1000 * 2 ** (failures.failures - free));
  return Math.max(0, last + delay - now);
}

/** The name tried, as the throttle and the audit log know it: a hash, whether it exists or not. */
export function signInSubject(username: string): string {
  return createHash("sha256").update(`operator-sign-in\0${username}`).digest("hex");
}

/**
 * Operator sign-in shared by the JSON API and the dashboard: scrypt-hashed passwords, a new
 * session (stored only as hashes) in a Secure, HttpOnly, SameSite=Strict cookie. Every sign-in,
 * failure and throttled try is an audit event. Returns the session's CSRF token, which only the
 * caller's response may carry.
 *
 * Failures slow the address that makes them, never the account: each (name, address) has
 * FREE_FAILURES free tries, then waits 1 s doubling per failure (up to 15 minutes) without
 * the password being checked; while a name has UNDER_ATTACK_FAILURES failures over all
 * addresses in the window, each address gets one free try. An address with no failures always
 * has its password checked, so the owner signs in from a fresh address whatever an attacker
 * does elsewhere. The state is keyed by a hash of the name tried, known or not, so answers and
 * timing do not tell who exists (docs/reliability.md, sign-in throttling).
 *
 * An account with a TOTP secret, or of a role that needs one (admins by default), must also
 * present a fresh code; a missing or wrong code is the same failure as a wrong password (same
 * answer, same throttle), so a guesser learns nothing about the password from it.
 */
export async function signIn(
  s: Services,
  c: Context,
  username: string,
  password: string,
  code?: string,
): Promise<{ csrf: string; role: Role }> {
  const now = s.now();
  const subject = signInSubject(username);
  const address = byClientAddress(c);
  const [mine, all, operator] = await Promise.all([
    s.store.getSignInFailures(subject, address),
    s.store.getSignInFailures(subject, ALL_ADDRESSES),
    s.store.getOperatorByName(username),
  ]);
  // The audit actor of a failure is the account found, or a hash: never the caller's text.
  const actor = operator ? `operator:${operator.username}` : "unknown";
  const target = `sign-in:${subject.slice(0, 16)}`;
  const underAttack =
    (all?.failures ?? 0) >= UNDER_ATTACK_FAILURES &&
    now.getTime() - Date.parse(all?.lastFailureAt ?? "") < FAILURE_WINDOW_MS;
  const wait = throttleDelayMs(
    mine,
    underAttack ? FREE_FAILURES_UNDER_ATTACK : FREE_FAILURES,
    now.getTime(),
  );
  if (wait > 0) {
    await s.audit.record(actor, "operator.login_throttled", target, { address });
    throw new ControlPlaneError("locked_out", "", { retry_after_s: Math.ceil(wait / 1000) });
  }
  // Verify against a dummy hash for unknown users, so timing does not reveal who exists.
  const ok = await verifyPassword(password, operator?.passwordHash ?? DUMMY_HASH);
  // A disabled account, one whose access has ended, or a missing or used code fails like a
  // wrong password. The code is checked (and used up) only after the password passed.
  const passed =
    operator !== undefined &&
    ok &&
    operatorActive(operator, now) &&
    (!mfaRequired(s.signIn, operator) || (await checkTotp(s, operator, code)));
  if (!operator || !passed) {
    const at = now.toISOString();
    const windowStart = new Date(now.getTime() - FAILURE_WINDOW_MS).toISOString();
    const [failures] = await Promise.all([
      s.store.recordSignInFailure(subject, address, at, windowStart),
      s.store.recordSignInFailure(subject, ALL_ADDRESSES, at, windowStart),
    ]);
    await s.store.pruneSignInFailures(windowStart);
    await s.audit.record(actor, "operator.login_failed", target, { address, failures });
    throw new ControlPlaneError(
      "unauthenticated",
      "wrong username or password, or a missing or wrong one-time code",
    );
  }
  if (mine) await s.store.clearSignInFailures(subject, address);
  const id = randomBytes(32).toString("base64url");
  const csrf = randomBytes(32).toString("base64url");
  await s.store.createSession({
    idHash: hashSecret(id),
    operatorId: operator.operatorId,
    csrfHash: hashSecret(csrf),
    expiresAt: new Date(now.getTime() + s.signIn.session.maxMs).toISOString(),
    createdAt: now.toISOString(),
    lastSeenAt: now.toISOString(),
  });
  setCookie(c, SESSION_COOKIE, id, {
    secure: true,
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    maxAge: Math.floor(s.signIn.session.maxMs / 1000),
  });
  await s.audit.record(`operator:${operator.username}`, "operator.login", operator.username);
  return { csrf, role: operator.role };
}
