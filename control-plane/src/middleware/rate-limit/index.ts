import { isIPv6 } from "node:net";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";

export interface RateLimit {
  readonly perMinute: number;
  readonly burst: number;
  /** Most keys held at once; keys unused for longest are dropped first (default 100,000). */
  readonly maxKeys?: number;
}

export const DEFAULT_MAX_KEYS = 100_000;

/**
 * Token buckets in memory (per instance), keyed by `keyOf`: per appliance after
 * appliance-identity (a misbehaving appliance cannot starve the others), per client address on
 * the unauthenticated routes (each enrollment attempt may cost a CSR signature).
 *
 * The key set is bounded (`generations`): a flood of new addresses drops the buckets of idle
 * ones, never the buckets of the addresses being limited right now.
 */
export function rateLimit(
  options: RateLimit,
  keyOf: (c: Context<AppEnv>) => string,
  now: () => number = Date.now,
) {
  const buckets = generations<{ tokens: number; at: number }>(options.maxKeys ?? DEFAULT_MAX_KEYS);
  const ratePerMs = options.perMinute / 60_000;
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = keyOf(c);
    const t = now();
    const bucket = buckets.take(key) ?? { tokens: options.burst, at: t };
    bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) * ratePerMs);
    bucket.at = t;
    buckets.put(key, bucket);
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

/**
 * A bounded map kept as two generations of at most `maxKeys / 2` keys each: a key used moves to
 * the current one; when that fills it becomes the previous one, and the old previous one (keys
 * not used for a whole generation) is dropped. O(1) per use, never more than `maxKeys` keys,
 * and a key in use always survives. (Deleting the oldest entries of one Map one by one is
 * quadratic in V8, whose iterators skip the deleted slots.)
 */
function generations<V>(maxKeys: number) {
  const half = Math.max(1, Math.floor(maxKeys / 2));
  let current = new Map<string, V>();
  let previous = new Map<string, V>();
  return {
    take(key: string): V | undefined {
      const value = current.get(key);
      if (value !== undefined) return value;
      const old = previous.get(key);
      if (old !== undefined) previous.delete(key);
      return old;
    },
    put(key: string, value: V): void {
      current.set(key, value);
      if (current.size >= half) {
        previous = current;
        current = new Map();
      }
    },
  };
}

export const byAppliance = (c: Context<AppEnv>) => {
  const a = c.get("appliance");
  return `${a.tenantId}/${a.applianceId}`;
};

/** The TCP peer address from @hono/node-server's bindings ("unknown" in-process). */
export const peerAddress = (c: Context) =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress ?? "unknown";

/**
 * A client address as budgets count it: IPv4 as is (also IPv4-mapped IPv6), IPv6 by its /64
 * prefix (one subscriber's allocation: rotating through it must not buy new budgets).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** The per-address budget key of a request. */
export const byClientAddress = (c: Context) => addressKey(peerAddress(c));
