import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { Store } from "../../store/index.ts";

/**
 * Admin API authentication: `Authorization: Bearer <token>`. Tokens are stored only as their
 * SHA-256 (a token is 32 random bytes, so a fast hash suffices); the lookup is by hash and the
 * match is confirmed in constant time. The actor recorded in the audit log is the token's hash
 * prefix, never the token.
 */
export function adminAuth(store: Store) {
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
    c.set("adminActor", `admin:${hash.slice(0, 12)}`);
    await next();
  });
}
