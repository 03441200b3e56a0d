import { describe, expect, it } from "vitest";
import { backoffDelay, jitteredInterval } from "./backoff.ts";

describe("backoff", () => {
  it.each([
    [0, 54_000],
    [0.5, 60_000],
    [0.999_999, 66_000],
  ])("spreads the poll period uniformly over ±10 %% (random %s)", (random, expected) => {
    expect(jitteredInterval(60_000, 0.1, () => random)).toBe(expected);
  });

  it("doubles the backoff from its base up to the cap", () => {
    const plain = [0, 1, 2, 3, 4, 5, 6].map((n) =>
      backoffDelay(n, 60_000, 900_000, 0, Math.random),
    );
    expect(plain).toEqual([60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
    expect(backoffDelay(9, 60_000, 900_000, 0.1, () => 0)).toBe(810_000);
  });

  it("clamps a negative attempt to the base and caps the delay before the jitter", () => {
    expect(backoffDelay(-3, 100, 1_000)).toBe(100);
    expect(backoffDelay(5_000, 100, 1_000)).toBe(1_000);
    expect(backoffDelay(3, 100, 1_000, 0.5, () => 0)).toBe(400);
    expect(backoffDelay(3, 100, 1_000, 0.5, () => 0.999_999)).toBe(1_200);
  });
});
