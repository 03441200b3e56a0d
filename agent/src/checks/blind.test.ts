import { describe, expect, it } from "vitest";
import { DRIFT_CHECK_IDS } from "#catalog";
import type { Host } from "../ports.ts";
import { instantClock, labCheckWorld } from "./testing.ts";

/**
 * A check that cannot see what it checks must never pass. For every check, every program it
 * runs on the clean lab host is made missing, hung or garbled in turn: the result must be an
 * error that says why, never a pass and never drift invented from noise.
 */
async function programsUsedBy(id: (typeof DRIFT_CHECK_IDS)[number]): Promise<string[]> {
  const used = new Set<string>();
  const world = await labCheckWorld({
    clock: instantClock,
    host: (lab): Host => ({
      ...lab,
      exec: (request) => {
        used.add(request.argv[0]);
        return lab.exec(request);
      },
    }),
  });
  const clean = await world.run(id);
  expect(clean.status, `${id} on the clean lab host`).toBe("pass");
  return [...used].sort();
}

describe.each(DRIFT_CHECK_IDS)("%s when it cannot see", (id) => {
  it("is an error for every missing, hung or garbled program, never a pass", async () => {
    const programs = await programsUsedBy(id);
    expect(programs.length).toBeGreaterThan(0);
    for (const program of programs) {
      // logger prints nothing on success: there is no output to garble.
      const kinds = [
        "tool_missing",
        "tool_hangs",
        ...(program === "logger" ? [] : (["tool_garbled"] as const)),
      ] as const;
      for (const kind of kinds) {
        const world = await labCheckWorld({
          drifts: [{ kind, program }],
          clock: instantClock,
          toolTimeoutMs: 50,
        });
        const result = await world.run(id);
        expect(result.status, `${id} with ${program} ${kind}: ${result.reason}`).toBe("error");
        expect(result.findings).toEqual([]);
        expect(result.reason).toMatch(
          kind === "tool_missing" ? /not_found/ : kind === "tool_hangs" ? /timed out/ : /.+/,
        );
      }
    }
  });

  it("is skipped without a baseline", async () => {
    const world = await labCheckWorld({ baseline: null, clock: instantClock });
    const result = await world.run(id);
    expect(result).toMatchObject({ status: "skipped", reason: expect.stringMatching(/baseline/) });
  });

  it("is an error when the whole check outlives its timeout", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      checkTimeoutMs: 100,
      toolTimeoutMs: 10_000,
      host: (lab): Host => ({
        ...lab,
        exec: () => new Promise(() => {}), // a host that never answers and ignores signals
        readlink: () => new Promise(() => {}),
        readFile: () => new Promise(() => {}),
      }),
    });
    const started = performance.now();
    const result = await world.run(id);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(result).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/within 100 ms/),
    });
  });
});
