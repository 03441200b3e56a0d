import { describe, expect, it } from "vitest";
import { runAgent } from "./agent.ts";
import { acceleratedClock } from "./ports.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

describe("poll timing", () => {
  it("polls every 60 s ± 10 %, measured on the agent's clock, cycles never overlapping", async () => {
    let world: AgentWorld | undefined;
    try {
      world = await createAgentWorld({
        settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 },
      });
      const clock = acceleratedClock(new Date("2026-11-25T00:00:00Z"));
      await runAgent(
        world.deps({ clock, maxCycles: 40, random: Math.random }),
        new AbortController().signal,
      );
      const times = world.cp.polls.map((p) => Date.parse(p.sent_at));
      expect(times).toHaveLength(40);
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(54_000);
        expect(gap).toBeLessThanOrEqual(66_000);
      }
      expect(new Set(gaps).size).toBeGreaterThan(10); // jittered, not a fixed period
    } finally {
      await world?.cleanup();
    }
  });
});
