import { z } from "zod";
import { Scope } from "../../access/roles.ts";
import type { Services } from "../../env.ts";
import {
  changeGrant,
  createAccountWithMfa,
  createToken,
  describeOperator,
  describeSession,
  describeToken,
  endSessions,
  Grant,
  resetPassword,
  revokeToken,
  sessionsOf,
  setDisabled,
  TokenName,
  Username,
  unlock,
} from "../../operator/accounts.ts";
import { resetMfa } from "../../operator/mfa.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";

export const UsernameParams = z.object({ username: Username });
const SessionParams = z.object({
  username: Username,
  session: z.string().regex(/^[0-9a-f]{16}$/, "a session id as listed"),
});
export const TokenParams = z.object({
  token: z.string().regex(/^[0-9a-f]{64}$/, "a token id as listed"),
});

const OperatorView = z.object({
  username: z.string(),
  role: z.string(),
  scope: Scope,
  expires_at: z.string().nullable(),
  disabled: z.boolean(),
});
const SessionView = z.object({
  session: z.string(),
  created_at: z.string().nullable(),
  last_seen_at: z.string().nullable(),
  expires_at: z.string(),
});
const TokenView = z.object({
  token_id: z.string(),
  name: z.string(),
  role: z.string(),
  scope: Scope,
  created_at: z.string(),
  created_by: z.string().nullable(),
  expires_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  revoked: z.boolean(),
});
const Done = z.object({ ok: z.literal(true) });
/** A TOTP secret as shown once: the URI an authenticator app scans and the base32 to type. */
export const ShownTotp = z.object({ otpauth_uri: z.string(), secret: z.string() });
const Password = z.object({
  username: z.string(),
  password: z.string(),
  totp: ShownTotp.optional(),
});

const CreateOperator = Grant.extend({
  username: Username,
  /** Omit to have one generated (shown once in the answer). */
  password: z.string().min(12).max(1024).optional(),
});
const CreateToken = Grant.extend({
  name: TokenName,
  days: z.int().min(1).max(3650).optional(),
});

/**
 * Operator management and named API tokens on the operator API: admins only. The same
 * functions serve the command line (`control-plane operator …`, `token …`) and the dashboard.
 */
export function operatorManagementRoutes(s: Services): Route[] {
  const admin = operatorApi("admin");
  const action = (
    path: string,
    operationId: string,
    summary: string,
    run: (actor: string, username: string) => Promise<unknown>,
  ) =>
    defineRoute({
      method: "post",
      path: `/operators/{username}/${path}`,
      operationId,
      summary,
      auth: admin,
      params: UsernameParams,
      response: { schema: Done },
      handler: async (c, { params }) => {
        await run(c.get("adminActor"), params.username);
        return c.json({ ok: true as const });
      },
    });
  return [
    defineRoute({
      method: "get",
      path: "/operators",
      operationId: "list_operators",
      summary: "Every operator with role, scope, expiry and state",
      auth: admin,
      response: { schema: z.object({ operators: z.array(OperatorView) }) },
      handler: async (c) =>
        c.json({ operators: (await s.store.listOperators()).map(describeOperator) }),
    }),
    defineRoute({
      method: "post",
      path: "/operators",
      operationId: "create_operator",
      summary: "Create an operator (the password is generated unless given, and shown once)",
      auth: admin,
      body: CreateOperator,
      response: { status: 201, schema: Password },
      handler: async (c, { body }) => {
        const created = await createAccountWithMfa(s, c.get("adminActor"), {
          username: body.username,
          grant: body,
          password: body.password,
        });
        return c.json({ username: body.username, ...created }, 201);
      },
    }),
    defineRoute({
      method: "put",
      path: "/operators/{username}/grant",
      operationId: "change_operator_grant",
      summary: "Change an operator's role, scope and expiry",
      auth: admin,
      params: UsernameParams,
      body: Grant,
      response: { schema: OperatorView },
      handler: async (c, { params, body }) =>
        c.json(describeOperator(await changeGrant(s, c.get("adminActor"), params.username, body))),
    }),
    defineRoute({
      method: "post",
      path: "/operators/{username}/reset-mfa",
      operationId: "reset_operator_mfa",
      summary:
        "Recover another operator's second factor: a new TOTP secret, shown once; its sessions end",
      auth: admin,
      params: UsernameParams,
      response: { schema: ShownTotp },
      handler: async (c, { params }) =>
        c.json(await resetMfa(s, c.get("adminActor"), params.username)),
    }),
    action("disable", "disable_operator", "Disable an operator and end its sessions", (a, u) =>
      setDisabled(s, a, u, true),
    ),
    action("enable", "enable_operator", "Enable a disabled operator", (a, u) =>
      setDisabled(s, a, u, false),
    ),
    action("unlock", "unlock_operator", "Clear an operator's throttled sign-in failures", (a, u) =>
      unlock(s, a, u),
    ),
    defineRoute({
      method: "post",
      path: "/operators/{username}/reset-password",
      operationId: "reset_operator_password",
      summary: "Generate a new password (shown once) and end the operator's sessions",
      auth: admin,
      params: UsernameParams,
      response: { schema: Password },
      handler: async (c, { params }) => {
        const { password } = await resetPassword(s, c.get("adminActor"), params.username);
        return c.json({ username: params.username, password });
      },
    }),
    defineRoute({
      method: "get",
      path: "/operators/{username}/sessions",
      operationId: "list_operator_sessions",
      summary: "An operator's live sessions",
      auth: admin,
      params: UsernameParams,
      response: { schema: z.object({ sessions: z.array(SessionView) }) },
      handler: async (c, { params }) =>
        c.json({ sessions: (await sessionsOf(s, params.username)).map(describeSession) }),
    }),
    defineRoute({
      method: "delete",
      path: "/operators/{username}/sessions",
      operationId: "revoke_operator_sessions",
      summary: "End every session of an operator",
      auth: admin,
      params: UsernameParams,
      response: { schema: z.object({ ended: z.int() }) },
      handler: async (c, { params }) =>
        c.json({ ended: await endSessions(s, c.get("adminActor"), params.username) }),
    }),
    defineRoute({
      method: "delete",
      path: "/operators/{username}/sessions/{session}",
      operationId: "revoke_operator_session",
      summary: "End one session of an operator",
      auth: admin,
      params: SessionParams,
      response: { schema: z.object({ ended: z.int() }) },
      handler: async (c, { params }) =>
        c.json({
          ended: await endSessions(s, c.get("adminActor"), params.username, params.session),
        }),
    }),
    defineRoute({
      method: "get",
      path: "/tokens",
      operationId: "list_tokens",
      summary: "Every named API token (never the token itself)",
      auth: admin,
      response: { schema: z.object({ tokens: z.array(TokenView) }) },
      handler: async (c) =>
        c.json({ tokens: (await s.store.listAdminTokens()).map(describeToken) }),
    }),
    defineRoute({
      method: "post",
      path: "/tokens",
      operationId: "create_token",
      summary: "Create a named API token with a role, scope and expiry (shown once)",
      auth: admin,
      body: CreateToken,
      response: { status: 201, schema: TokenView.extend({ token: z.string() }) },
      handler: async (c, { body }) => {
        const { token, record } = await createToken(s, c.get("adminActor"), {
          name: body.name,
          grant: body,
          days: body.days,
        });
        return c.json({ ...describeToken(record), token }, 201);
      },
    }),
    defineRoute({
      method: "post",
      path: "/tokens/{token}/revoke",
      operationId: "revoke_token",
      summary: "Revoke a named API token at once",
      auth: admin,
      params: TokenParams,
      response: { schema: Done },
      handler: async (c, { params }) => {
        await revokeToken(s, c.get("adminActor"), params.token);
        return c.json({ ok: true as const });
      },
    }),
  ];
}
