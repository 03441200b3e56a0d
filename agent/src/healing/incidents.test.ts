import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalog } from "#catalog";
import { runAgent } from "../agent.ts";
import { createCheckRunner } from "../checks/runner.ts";
import { cleanLabState, createLabHost, LAB_BACKUP_JOB } from "../host/lab/index.ts";
import { acceleratedClock } from "../ports.ts";
import { type AgentWorld, createAgentWorld } from "../testing/fixture.ts";
import { REPO_ROOT, RESTORE_TEST_DIR } from "../testing/healing-lab.ts";
import { createHealing } from "./index.ts";

/**
 * Incidents leave the appliance like evidence: queued durably in the journal while the control
 * plane is down (across restarts), then delivered in order once it is back, each pointing at the
 * signed check_result bundle that recorded the drift.
 */
let world: AgentWorld;
afterEach(async () => world?.cleanup());
const catalog = await loadCatalog(REPO_ROOT);
const settings = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 };

describe("incidents", () => {
  it("are queued offline across a restart and delivered in order when the control plane is back", async () => {
    world = await createAgentWorld({ settings });
    const clock = acceleratedClock(new Date("2026-11-25T10:00:00Z"));
    const state = cleanLabState(clock.now());
    const host = createLabHost({ state, clock, restoreTestDir: RESTORE_TEST_DIR });
    const expected = {
      ...world.config.host,
      expected_system: state.nixos.generations.at(-1)?.system,
      backup_jobs: [LAB_BACKUP_JOB],
    };
    const checks = createCheckRunner({
      host,
      baseline: catalog.baseline,
      expected,
      restoreTestDir: RESTORE_TEST_DIR,
      clock,
      checkTimeoutMs: 10_000,
      toolTimeoutMs: 5_000,
    });
    const healing = createHealing({
      catalog,
      config: { ...world.config, host: expected },
      host,
      checks,
      clock,
    });
    const deps = (maxCycles: number) =>
      world.deps({ clock, host, checks, healing, maxCycles, random: Math.random });
    const { cp } = world;

    await runAgent(deps(1), new AbortController().signal); // enroll while up, all clean
    cp.available = false;
    // Drift with no L1 rule.
    host.update((s) => Object.assign(s.cpu, { load1: 40, load5: 40, load15: 40 }));
    await runAgent(deps(2), new AbortController().signal);
    // After a restart, still offline: drift whose L1 runbook fails (the restart does not stick).
    host.update((s) => {
      Object.assign(s.units["chronyd.service"] as object, {
        active_state: "failed",
        sub_state: "failed",
      });
      s.healing.unstick = ["chronyd.service"];
    });
    await runAgent(deps(2), new AbortController().signal);
    const queued = outbox(world);
    expect(queued.map((q) => q.kind)).toEqual(["incident", "incident"]);
    expect(cp.incidents).toEqual([]);

    cp.available = true;
    const status = await runAgent(deps(1), new AbortController().signal);
    expect(status.contact_failures).toBe(0);
    expect(outbox(world)).toEqual([]);
    expect(cp.incidents.map((i) => i.incident_id)).toEqual(queued.map((q) => q.body.incident_id));
    const [cpu] = cp.incidents;
    expect(cpu).toMatchObject({
      tenant_id: cp.tenantId,
      appliance_id: cp.applianceId,
      check_id: "services",
      findings: [expect.objectContaining({ code: "cpu_load_high" })],
      local_l1: { attempted: false },
    });
    // The incident names the signed bundle that recorded the drift, which the control plane holds.
    const recorded = cp.bundles.find((b) => b.seq === cpu?.evidence.seq);
    expect(recorded?.event).toMatchObject({
      kind: "check_result",
      check_id: "services",
      status: "drift",
    });
    expect(cp.incidents[1]).toMatchObject({
      local_l1: { attempted: true, runbook_id: "RB-SERVICE-001-crash", outcome: "rolled_back" },
    });
    expect(cp.bundles.filter((b) => b.event.kind === "incident_opened")).toHaveLength(2);
  }, 60_000);
});

function outbox(w: AgentWorld): { kind: string; body: { incident_id: string } }[] {
  const db = new DatabaseSync(join(w.config.state_dir, "journal.sqlite"), { readOnly: true });
  try {
    return (
      db.prepare("SELECT kind, body FROM outbox ORDER BY id").all() as {
        kind: string;
        body: string;
      }[]
    ).map((r) => ({ kind: r.kind, body: JSON.parse(r.body) }));
  } finally {
    db.close();
  }
}
