import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";

export interface RateLimit {
  readonly perMinute: number;
  readonly burst: number;
}

/**
 * Token buckets in memory (per instance), keyed by `keyOf`: per appliance after
 * appliance-identity (a misbehaving appliance cannot starve the others), per client address on
 * the unauthenticated enrollment route (each attempt may cost a CSR signature).
 */
export function rateLimit(
  options: RateLimit,
  keyOf: (c: Context<AppEnv>) => string,
  now: () => number = Date.now,
) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = options.perMinute / 60_000;
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = keyOf(c);
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: options.burst, at: t };
    bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) * ratePerMs);
    bucket.at = t;
    if (buckets.size > 200_000) buckets.clear();
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retry = Math.ceil((1 - bucket.tokens) / ratePerMs / 1000);
      throw new ControlPlaneError("rate_limited", "request budget exhausted", {
        retry_after_s: retry,
      });
    }
    bucket.tokens -= 1;
    await next();
  });
}

export const byAppliance = (c: Context<AppEnv>) => {
  const a = c.get("appliance");
  return `${a.tenantId}/${a.applianceId}`;
};

/** The TCP peer address from @hono/node-server's bindings ("unknown" in-process). */
export const byClientAddress = (c: Context) =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress ?? "unknown";
