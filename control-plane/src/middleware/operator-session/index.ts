import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { Store } from "../../store/index.ts";

/** `__Host-` pins the cookie to this origin, Secure, Path=/ (RFC 6265bis §4.1.3.2). */
export const SESSION_COOKIE = "__Host-cp_session";

export const hashSecret = (secret: string) => sha256Hex(new TextEncoder().encode(secret));

/**
 * Operator sessions: an opaque random id in a Secure, HttpOnly, SameSite=Strict cookie, stored
 * only as its hash. State-changing requests must also carry the session's CSRF token in
 * `x-csrf-token` (synchronizer token, compared in constant time); a cross-site form cannot read
 * it. The operator becomes the audit actor.
 */
export function operatorSession(store: Store, now: () => Date) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (!id) throw new ControlPlaneError("unauthenticated", "sign in first");
    const session = await store.getSession(hashSecret(id));
    if (!session || Date.parse(session.expiresAt) <= now().getTime()) {
      throw new ControlPlaneError("unauthenticated", "the session expired; sign in again");
    }
    if (!["GET", "HEAD", "OPTIONS"].includes(c.req.method)) {
      const csrf = c.req.header("x-csrf-token") ?? "";
      if (!constantTimeEqual(hashSecret(csrf), session.csrfHash)) {
        throw new ControlPlaneError("csrf_failed", "missing or wrong x-csrf-token");
      }
    }
    const operator = await store.getOperator(session.operatorId);
    if (!operator) throw new ControlPlaneError("unauthenticated", "sign in first");
    c.set("adminActor", `operator:${operator.username}`);
    await next();
  });
}
