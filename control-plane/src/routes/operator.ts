import { Hono } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import type { AppEnv, Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import {
  hashSecret,
  operatorSession,
  SESSION_COOKIE,
} from "../middleware/operator-session/index.ts";
import { signIn } from "../operator/sign-in.ts";
import { adminRoutes } from "./admin/index.ts";
import { siteLifecycleRoutes } from "./admin/site-lifecycle.ts";

const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export { MAX_FAILED_LOGINS } from "../operator/sign-in.ts";

/**
 * Operator sign-in (scrypt-hashed passwords, lockout after MAX_FAILED_LOGINS failures for 15
 * minutes), sign-out, and the admin API again under /v1/operator behind a session and CSRF.
 * Every sign-in, failure and sign-out is an audit event.
 */
export function operatorRoutes(s: Services) {
  const app = new Hono<AppEnv>();

  app.post("/login", async (c) => {
    const parsed = Login.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success)
      throw new ControlPlaneError("invalid_request", "expected username and password");
    const { username, password } = parsed.data;
    const { csrf } = await signIn(s, c, username, password);
    return c.json({ username, csrf_token: csrf });
  });

  const session = operatorSession(s.store, s.now);
  app.post("/logout", session, async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) await s.store.deleteSession(hashSecret(id));
    deleteCookie(c, SESSION_COOKIE, { secure: true, path: "/" });
    await s.audit.record(c.get("adminActor"), "operator.logout", c.get("adminActor"));
    return c.json({ ok: true });
  });
  app.get("/me", session, (c) => c.json({ actor: c.get("adminActor") }));
  app.use("/*", session);
  app.route("/", adminRoutes(s));
  app.route("/", siteLifecycleRoutes(s));
  return app;
}
