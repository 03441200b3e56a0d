import { deleteCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import type { Services } from "../env.ts";
import { hashSecret, SESSION_COOKIE } from "../middleware/operator-session/index.ts";
import { signIn } from "../operator/sign-in.ts";
import { defineRoute, PUBLIC, type Route, sessionOnly } from "./registry.ts";

const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

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
      invalidBody: "expected username and password",
      response: { schema: z.object({ username: z.string(), csrf_token: z.string() }) },
      handler: async (c, { body: { username, password } }) => {
        const { csrf } = await signIn(s, c, username, password);
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
