import { describe, expect, it } from "vitest";
import { acceleratedClock } from "../ports.ts";
import { labCheckWorld } from "./testing.ts";

/**
 * The target: no false positive on a clean lab host over 1,000 cycles. Each cycle runs
 * all six checks in process; the agent's clock advances 10 s per cycle (the shortest
 * check_interval_s), so a cycle sees time move as a real appliance would for ~2.8 hours.
 */
describe("a clean lab appliance", () => {
  it("gives 1,000 cycles of six passes: zero false positives", async () => {
    const start = new Date();
    const clock = acceleratedClock(start);
    const world = await labCheckWorld({ now: start, clock });
    const signal = new AbortController().signal;
    const notPass: string[] = [];
    for (let cycle = 0; cycle < 1000; cycle++) {
      const results = await world.runner.runAll(signal);
      if (results.length !== 6) throw new Error(`cycle ${cycle}: ${results.length} results`);
      for (const r of results) {
        if (r.status !== "pass")
          notPass.push(
            `cycle ${cycle} ${r.check_id} ${r.status} ${r.reason ?? ""} ${JSON.stringify(r.findings)}`,
          );
      }
      clock.advance(10_000);
    }
    expect(notPass).toEqual([]);
  }, 60_000);
});
