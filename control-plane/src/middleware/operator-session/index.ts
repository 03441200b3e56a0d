import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { Principal } from "../../access/roles.ts";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { OperatorRecord, SessionRecord, Store } from "../../store/index.ts";

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
    const { session, principal } = await currentSession(store, now, getCookie(c, SESSION_COOKIE));
    if (!["GET", "HEAD", "OPTIONS"].includes(c.req.method)) {
      checkCsrf(session, c.req.header("x-csrf-token"), "missing or wrong x-csrf-token");
    }
    c.set("adminActor", principal.actor);
    c.set("principal", principal);
    await next();
  });
}

/** Whether an operator may act at all: not disabled, access not yet ended. */
export const operatorActive = (o: OperatorRecord, at: Date): boolean =>
  o.disabledAt === null && (o.expiresAt === null || Date.parse(o.expiresAt) > at.getTime());

/**
 * The live session behind a cookie value and its operator as a principal; unauthenticated
 * otherwise (also once the operator is disabled or its access has ended).
 */
export async function currentSession(
  store: Store,
  now: () => Date,
  id: string | undefined,
): Promise<{ session: SessionRecord; username: string; principal: Principal }> {
  if (!id) throw new ControlPlaneError("unauthenticated", "sign in first");
  const at = now();
  const session = await store.getSession(hashSecret(id));
  if (!session || Date.parse(session.expiresAt) <= at.getTime()) {
    throw new ControlPlaneError("unauthenticated", "the session expired; sign in again");
  }
  const operator = await store.getOperator(session.operatorId);
  if (!operator || !operatorActive(operator, at))
    throw new ControlPlaneError("unauthenticated", "sign in first");
  const actor = `operator:${operator.username}`;
  return {
    session,
    username: operator.username,
    principal: { actor, role: operator.role, scope: operator.scope },
  };
}

/** The synchronizer token check, in constant time over the hashes. */
export function checkCsrf(session: SessionRecord, token: string | undefined, message: string) {
  if (!constantTimeEqual(hashSecret(token ?? ""), session.csrfHash)) {
    throw new ControlPlaneError("csrf_failed", message);
  }
}
