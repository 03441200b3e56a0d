import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { Store } from "../../store/index.ts";

/**
 * How a token names itself in listings, revocation and the audit log: its whole SHA-256 (not a
 * secret: the token cannot be found from it). A prefix would be ambiguous between two tokens.
 */
export const tokenId = (tokenHash: string) => tokenHash;

/**
 * API token authentication: `Authorization: Bearer <token>`. Tokens are stored only as their
 * SHA-256 (a token is 32 random bytes, so a fast hash suffices); the lookup is by hash and the
 * match is confirmed in constant time. A revoked or expired token is refused. The token acts
 * with its own role and scope; the actor recorded in the audit log is its name and hash prefix,
 * never the token.
 */
export function adminAuth(store: Store, now: () => Date) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(header);
    if (!match?.[1])
      throw new ControlPlaneError("unauthenticated", "an admin bearer token is required");
    const hash = sha256Hex(new TextEncoder().encode(match[1]));
    // The index lookup is by hash (reveals nothing about the token); the final match is
    // confirmed in constant time.
    const known = await store.findAdminToken(hash);
    if (!known || !constantTimeEqual(known.tokenHash, hash)) {
      throw new ControlPlaneError("unauthenticated", "the admin token is not valid");
    }
    const at = now();
    if (
      known.revokedAt !== null ||
      (known.expiresAt !== null && Date.parse(known.expiresAt) <= at.getTime())
    ) {
      throw new ControlPlaneError("unauthenticated", "the token is revoked or expired");
    }
    await store.touchAdminToken(hash, at.toISOString());
    const actor = `token:${known.label}:${tokenId(hash)}`;
    c.set("adminActor", actor);
    c.set("principal", { actor, role: known.role, scope: known.scope });
    await next();
  });
}
