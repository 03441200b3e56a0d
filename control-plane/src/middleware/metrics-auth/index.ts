import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { constantTimeEqual, sha256Hex } from "#protocol";
import type { AppEnv } from "../../env.ts";

/**
 * The metrics scrape: `Authorization: Bearer <scrape token>` when one is configured (its
 * SHA-256 only is held, compared in constant time), so Prometheus needs no admin power;
 * anything else goes to `fallback` (the admin token guard), which refuses or admits it.
 */
export function metricsAuth(
  scrapeTokenSha256: string | undefined,
  fallback: MiddlewareHandler<AppEnv>,
) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/.exec(c.req.header("authorization") ?? "");
    if (scrapeTokenSha256 && match?.[1]) {
      const hash = sha256Hex(new TextEncoder().encode(match[1]));
      if (constantTimeEqual(hash, scrapeTokenSha256)) {
        c.set("adminActor", "metrics-scrape");
        return next();
      }
    }
    return fallback(c, next);
  });
}
