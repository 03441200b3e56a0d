import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";

/**
 * Per-appliance token bucket (in memory, per instance): a misbehaving appliance cannot starve
 * the others. Runs after appliance-identity, keyed by tenant/appliance.
 */
export function applianceRateLimit(
  options: { perMinute: number; burst: number },
  now: () => number = Date.now,
) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = options.perMinute / 60_000;
  return createMiddleware<AppEnv>(async (c, next) => {
    const appliance = c.get("appliance");
    const key = `${appliance.tenantId}/${appliance.applianceId}`;
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: options.burst, at: t };
    bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) * ratePerMs);
    bucket.at = t;
    if (bucket.tokens < 1) {
      buckets.set(key, bucket);
      const retry = Math.ceil((1 - bucket.tokens) / ratePerMs / 1000);
      c.header("retry-after", String(retry));
      throw new ControlPlaneError("rate_limited", "request budget exhausted", {
        retry_after_s: retry,
      });
    }
    bucket.tokens -= 1;
    if (buckets.size > 200_000) buckets.clear();
    buckets.set(key, bucket);
    await next();
  });
}
