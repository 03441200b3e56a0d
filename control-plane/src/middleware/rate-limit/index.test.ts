import type { Context } from "hono";
import { describe, expect, it } from "vitest";
import { ControlPlaneError } from "../../errors.ts";
import { addressKey, byClientAddress, rateLimit } from "./index.ts";

/** A request context carrying only what the limiter reads: the peer address. */
const from = (remoteAddress: string) =>
  ({ env: { incoming: { socket: { remoteAddress } } } }) as unknown as Context;

/** Runs the middleware once: true when the request passed, false when it was limited. */
async function admitted(mw: ReturnType<typeof rateLimit>, c: Context): Promise<boolean> {
  try {
    await mw(c as never, async () => {});
    return true;
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === "rate_limited") return false;
    throw error;
  }
}

describe("rateLimit", () => {
  it("a flood of new addresses never resets the bucket of an address being limited", async () => {
    const t = 1_000_000;
    // The context is the key itself here: the flood measures the buckets, not address parsing.
    const mw = rateLimit(
      { perMinute: 1, burst: 2 },
      (c) => c as unknown as string,
      () => t,
    );
    const attacker = "198.51.100.7" as unknown as Context;
    expect(await admitted(mw, attacker)).toBe(true);
    expect(await admitted(mw, attacker)).toBe(true);
    expect(await admitted(mw, attacker)).toBe(false);
    // More distinct keys than any bound (the old limiter cleared every bucket past 200,000).
    for (let i = 0; i < 250_000; i++) {
      await admitted(mw, `k${i}` as unknown as Context);
      if (i % 5_000 === 0) expect(await admitted(mw, attacker), `after ${i} keys`).toBe(false);
    }
    expect(await admitted(mw, attacker)).toBe(false);
  });

  it("keeps a key in use and forgets one left idle while maxKeys newer keys came", async () => {
    const mw = rateLimit({ perMinute: 1, burst: 1, maxKeys: 4 }, byClientAddress, () => 0);
    const limited = from("192.0.2.1");
    expect(await admitted(mw, limited)).toBe(true);
    for (let i = 10; i < 20; i++) {
      expect(await admitted(mw, from(`192.0.2.${i}`))).toBe(true);
      expect(await admitted(mw, limited)).toBe(false);
    }
    for (let i = 20; i < 24; i++) expect(await admitted(mw, from(`192.0.2.${i}`))).toBe(true);
    // Idle through a whole bound of newer keys: its bucket was dropped and starts full.
    expect(await admitted(mw, limited)).toBe(true);
  });

  it("counts an IPv6 client by its /64: rotating addresses inside it buys no budget", async () => {
    const mw = rateLimit({ perMinute: 1, burst: 2 }, byClientAddress, () => 0);
    expect(await admitted(mw, from("2001:db8:1:2::1"))).toBe(true);
    expect(await admitted(mw, from("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))).toBe(true);
    expect(await admitted(mw, from("2001:0db8:0001:0002::ffff"))).toBe(false);
    // Another /64 has its own budget.
    expect(await admitted(mw, from("2001:db8:1:3::1"))).toBe(true);
  });

  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:DB8:0:1:2:3:4:5", "2001:db8:0:1::/64"],
    ["::1", "0:0:0:0::/64"],
  ])("addressKey(%s) = %s", (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
