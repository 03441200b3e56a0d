import { deleteCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import type { Services } from "../env.ts";
import { hashSecret, SESSION_COOKIE } from "../middleware/operator-session/index.ts";
import { confirmEnrolment, startEnrolment, TotpCode } from "../operator/mfa.ts";
import { signIn } from "../operator/sign-in.ts";
import { ShownTotp } from "./admin/operators.ts";
import { defineRoute, PUBLIC, type Route, sessionOnly } from "./registry.ts";

const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  /** The TOTP code, for an account with a second factor (admins always). */
  code: z.string().max(16).optional(),
});

/** The signed-in operator's name (sessions act as `operator:<name>`). */
const selfName = (actor: string) => actor.slice("operator:".length);

/**
 * Operator sign-in (scrypt-hashed passwords, failures throttled per name and client address,
 * never an account lockout: operator/sign-in.ts), sign-out and who-am-I under /v1/operator; the operator API itself is served there
 * too (routes/admin). Every sign-in, failure and sign-out is an audit event.
 */
export function operatorRoutes(s: Services): Route[] {
  return [
    defineRoute({
      method: "post",
      path: "/login",
      operationId: "login",
      summary: "Sign in: sets the session cookie and returns the CSRF token",
      auth: PUBLIC,
      limit: "sign-in",
      body: Login,
      invalidBody: "expected username, password and (with a second factor) code",
      response: { schema: z.object({ username: z.string(), csrf_token: z.string() }) },
      handler: async (c, { body: { username, password, code } }) => {
        const { csrf } = await signIn(s, c, username, password, code);
        return c.json({ username, csrf_token: csrf });
      },
    }),
    defineRoute({
      method: "post",
      path: "/logout",
      operationId: "logout",
      summary: "Sign out: ends the session",
      auth: sessionOnly("signed-in"),
      response: { schema: z.object({ ok: z.literal(true) }) },
      handler: async (c) => {
        const id = getCookie(c, SESSION_COOKIE);
        if (id) await s.store.deleteSession(hashSecret(id));
        deleteCookie(c, SESSION_COOKIE, { secure: true, path: "/" });
        await s.audit.record(c.get("adminActor"), "operator.logout", c.get("adminActor"));
        return c.json({ ok: true });
      },
    }),
    defineRoute({
      method: "post",
      path: "/mfa/enrol",
      operationId: "mfa_enrol",
      summary: "Start enrolling a TOTP second factor: a new secret, shown once",
      auth: sessionOnly("signed-in"),
      response: { schema: ShownTotp },
      handler: async (c) => c.json(await startEnrolment(s, selfName(c.get("adminActor")))),
    }),
    defineRoute({
      method: "post",
      path: "/mfa/confirm",
      operationId: "mfa_confirm",
      summary: "Put the enrolling secret in force with a current code of it",
      auth: sessionOnly("signed-in"),
      body: z.strictObject({ code: TotpCode }),
      response: { schema: z.object({ ok: z.literal(true) }) },
      handler: async (c, { body }) => {
        await confirmEnrolment(s, selfName(c.get("adminActor")), body.code);
        return c.json({ ok: true as const });
      },
    }),
    defineRoute({
      method: "get",
      path: "/me",
      operationId: "me",
      summary: "The signed-in operator",
      auth: sessionOnly("signed-in"),
      response: { schema: z.object({ actor: z.string() }) },
      handler: (c) => c.json({ actor: c.get("adminActor") }),
    }),
  ];
}
