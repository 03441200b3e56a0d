import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { Principal } from "../../access/roles.ts";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { SessionLimits } from "../../operator/settings.ts";
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
export function operatorSession(store: Store, now: () => Date, limits: SessionLimits) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { session, principal } = await currentSession(
      store,
      now,
      getCookie(c, SESSION_COOKIE),
      limits,
    );
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
 * Whether a session has ended at `at`: past its expiry (sign-in time plus the lifetime then in
 * force), past sign-in plus the lifetime now in force (a shortened setting applies to live
 * sessions too), or idle for `idleMs` since its last request.
 */
export function sessionEnded(session: SessionRecord, limits: SessionLimits, at: Date): boolean {
  const now = at.getTime();
  const started = Date.parse(session.createdAt ?? "");
  const seen = Date.parse(session.lastSeenAt ?? session.createdAt ?? "");
  return (
    Date.parse(session.expiresAt) <= now ||
    (!Number.isNaN(started) && started + limits.maxMs <= now) ||
    (!Number.isNaN(seen) && seen + limits.idleMs <= now)
  );
}

/**
 * The live session behind a cookie value and its operator as a principal; unauthenticated
 * otherwise (also once the operator is disabled or its access has ended). An ended session is
 * deleted; a live one records the request as its last activity (at most once per tenth of the
 * idle timeout, so a busy session does not write on every request).
 */
export async function currentSession(
  store: Store,
  now: () => Date,
  id: string | undefined,
  limits: SessionLimits,
): Promise<{ session: SessionRecord; username: string; principal: Principal }> {
  if (!id) throw new ControlPlaneError("unauthenticated", "sign in first");
  const at = now();
  const session = await store.getSession(hashSecret(id));
  if (!session || sessionEnded(session, limits, at)) {
    if (session) await store.deleteSession(session.idHash);
    throw new ControlPlaneError("unauthenticated", "the session expired; sign in again");
  }
  const seen = Date.parse(session.lastSeenAt ?? session.createdAt ?? "");
  if (Number.isNaN(seen) || at.getTime() - seen >= Math.min(60_000, limits.idleMs / 10))
    await store.touchSession(session.idHash, at.toISOString());
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
