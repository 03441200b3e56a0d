import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { AppEnv, Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import {
  hashSecret,
  operatorSession,
  SESSION_COOKIE,
} from "../middleware/operator-session/index.ts";
import { DUMMY_HASH, verifyPassword } from "../operator/password.ts";
import { adminRoutes } from "./admin/index.ts";
import { siteLifecycleRoutes } from "./admin/site-lifecycle.ts";

const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export const MAX_FAILED_LOGINS = 5;
const LOCKOUT_MS = 15 * 60 * 1000;
const SESSION_MS = 8 * 60 * 60 * 1000;

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
    const now = s.now();
    const operator = await s.store.getOperatorByName(username);
    if (operator?.lockedUntil && Date.parse(operator.lockedUntil) > now.getTime()) {
      await s.audit.record(`operator:${username}`, "operator.login_locked", username);
      throw new ControlPlaneError("locked_out", "", {
        retry_after_s: Math.ceil((Date.parse(operator.lockedUntil) - now.getTime()) / 1000),
      });
    }
    // Verify against a dummy hash for unknown users, so timing does not reveal who exists.
    const ok = await verifyPassword(password, operator?.passwordHash ?? DUMMY_HASH);
    if (!operator || !ok) {
      if (operator) {
        const failures = operator.failedAttempts + 1;
        const locked =
          failures >= MAX_FAILED_LOGINS ? new Date(now.getTime() + LOCKOUT_MS).toISOString() : null;
        await s.store.setOperatorLoginState(operator.operatorId, locked ? 0 : failures, locked);
      }
      await s.audit.record(`operator:${username}`, "operator.login_failed", username);
      throw new ControlPlaneError("unauthenticated", "wrong username or password");
    }
    await s.store.setOperatorLoginState(operator.operatorId, 0, null);
    const id = randomBytes(32).toString("base64url");
    const csrf = randomBytes(32).toString("base64url");
    await s.store.createSession({
      idHash: hashSecret(id),
      operatorId: operator.operatorId,
      csrfHash: hashSecret(csrf),
      expiresAt: new Date(now.getTime() + SESSION_MS).toISOString(),
    });
    setCookie(c, SESSION_COOKIE, id, {
      secure: true,
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: SESSION_MS / 1000,
    });
    await s.audit.record(`operator:${username}`, "operator.login", username);
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
