import { afterEach, describe, expect, it } from "vitest";
import { runAgent } from "./agent.ts";
import type { CheckRunner } from "./ports.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

describe("the loop", () => {
  it("cuts off a check runner that hangs and ignores its signal, and goes on", async () => {
    world = await createAgentWorld({ config: { step_timeout_s: 1 } });
    const hangs: CheckRunner = { run: () => new Promise(() => {}) };
    const status = await runAgent(
      world.deps({ checks: hangs, maxCycles: 2 }),
      new AbortController().signal,
    );
    expect(status.cycles).toBe(2);
    expect(world.cp.polls).toHaveLength(2);
    expect(status.last_error).toMatch(/^checks: /);
    const alerts = world.cp.bundles.filter((b) => b.event.kind === "alert");
    expect(alerts.map((b) => b.event.kind === "alert" && b.event.code)).toEqual([
      "checks_failed",
      "checks_failed",
    ]);
  });

  it("records a failing check runner as an alert and still polls and pushes", async () => {
    world = await createAgentWorld();
    const fails: CheckRunner = {
      run: async () => {
        throw new Error("systemctl is missing");
      },
    };
    const status = await runAgent(
      world.deps({ checks: fails, maxCycles: 1 }),
      new AbortController().signal,
    );
    expect(status.backlog).toBe(1);
    expect(world.cp.bundles.at(-1)?.event).toMatchObject({
      kind: "alert",
      code: "checks_failed",
      message: "systemctl is missing",
    });
  });

  it("stops within the shutdown bound even when a step ignores the stop", async () => {
    world = await createAgentWorld({ config: { shutdown_timeout_s: 1 } });
    const stop = new AbortController();
    const hangs: CheckRunner = {
      run: () => {
        stop.abort(); // SIGTERM arrives while the step runs, and the step never ends
        return new Promise(() => {});
      },
    };
    const status = await runAgent(world.deps({ checks: hangs, maxCycles: 5 }), stop.signal);
    expect(status.state).toBe("stopped");
    expect(status.cycles).toBe(1);
  });
});
