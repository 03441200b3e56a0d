import { expect, it } from "vitest";
import { defineStoreContract } from "./contract-kit.ts";

export const leaseContract = defineStoreContract("leases", (store) => {
  const t = (s: number) => new Date(Date.UTC(2026, 10, 25, 12, 0, s)).toISOString();

  it("one holder at a time until the lease expires; the holder renews", async () => {
    expect(await store().acquireLease("vault", "a", t(0), t(30))).toBe("acquired");
    expect(await store().acquireLease("vault", "b", t(10), t(40))).toBe("held");
    expect(await store().acquireLease("vault", "a", t(20), t(50))).toBe("acquired"); // renewal
    expect(await store().acquireLease("vault", "b", t(40), t(59))).toBe("held");
    expect(await store().acquireLease("vault", "b", t(50), t(59))).toBe("acquired"); // expired
    expect(await store().releaseLease("vault", "a", t(51), false)).toBe(false); // not a's now
    expect(await store().releaseLease("vault", "b", t(52), false)).toBe(true);
    expect(await store().acquireLease("vault", "a", t(53), t(59))).toBe("acquired");
  });

  it("exactly one of many concurrent takers wins", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store().acquireLease("race", `h${i}`, t(0), t(30))),
    );
    expect(outcomes.filter((o) => o === "acquired")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "held")).toHaveLength(11);
  });

  it("a completed lease is never taken again, even after it expires", async () => {
    expect(await store().acquireLease("packets:2026-11", "a", t(0), t(30))).toBe("acquired");
    expect(await store().releaseLease("packets:2026-11", "a", t(1), true)).toBe(true);
    expect(await store().acquireLease("packets:2026-11", "b", t(59), t(59))).toBe("completed");
    expect(await store().acquireLease("packets:2026-11", "a", t(59), t(59))).toBe("completed");
    expect(await store().releaseLease("packets:2026-11", "a", t(59), false)).toBe(false);
  });
});
