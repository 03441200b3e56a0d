import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { setCookie } from "hono/cookie";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { hashSecret, SESSION_COOKIE } from "../middleware/operator-session/index.ts";
import { DUMMY_HASH, verifyPassword } from "./password.ts";

export const MAX_FAILED_LOGINS = 5;
const LOCKOUT_MS = 15 * 60 * 1000;
export const SESSION_MS = 8 * 60 * 60 * 1000;

/**
 * Operator sign-in shared by the JSON API and the dashboard: scrypt-hashed passwords, lockout
 * after MAX_FAILED_LOGINS failures for 15 minutes, a new session (stored only as hashes) in a
 * Secure, HttpOnly, SameSite=Strict cookie. Every sign-in and failure is an audit event.
 * Returns the session's CSRF token, which only the caller's response may carry.
 */
export async function signIn(
  s: Services,
  c: Context,
  username: string,
  password: string,
): Promise<{ csrf: string }> {
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
  return { csrf };
}
