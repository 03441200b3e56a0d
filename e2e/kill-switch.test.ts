import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvidenceBundle, EvidenceEvent } from "#protocol";
import { type Child, eventually, startChild } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * The kill switch against orders already issued, with the real processes: `control-plane serve`
 * (TLS, SQLite) and the real agent in lab mode. The agent is stopped, two orders are issued (one
 * automatic L2, one a person's L3), then the kill switch is engaged: both are withdrawn on the
 * control plane (status, who, why, audited). The agent starts again, and its first poll says so
 * in the signed response: it records each withdrawal and its suspension as evidence, reports
 * the orders withdrawn and runs neither (a backup order that runs adds a snapshot to the lab
 * host). Lifting the switch is recorded too, and a new order then runs: the agent was not merely
 * stalled.
 */
const TENANT = "ks-clinic";
const APPLIANCE = "ks-clinic-01";
const root = resolve(import.meta.dirname, "..");

let dir: string;
let pair: LabPair | undefined;
let restarted: Child | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-kill-switch-"));
});
afterAll(async () => {
  await restarted?.stop();
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the kill switch, end to end with the real control plane and agent", () => {
  it("withdraws orders not yet run; the agent records it, runs nothing, and runs again once lifted", async () => {
    const p = await startLabPair({
      dir,
      tenantId: TENANT,
      applianceId: APPLIANCE,
      pollIntervalS: 1,
      // One operator lifts the switch here; the second approval has its own tests.
      controlPlaneConfig: { two_person_rule: { lift_kill_switch: false } },
    });
    pair = p;
    await p.enrolled();
    const job = (p.agentConfig.host as { backup_jobs: string[] }).backup_jobs[0] ?? "";
    const snapshots = async () =>
      (JSON.parse(await readFile(p.labStateFile, "utf8")).backups[job].snapshots as []).length;
    const evidence = async (): Promise<EvidenceEvent[]> => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      return (res.body as { bundles: EvidenceBundle[] }).bundles.map((b) => b.event);
    };
    const order = async (id: string) =>
      (await p.admin(`/tenants/${TENANT}/orders/${id}`)).body as {
        seq: number;
        status: string;
        result: { outcome?: string } | null;
        withdrawal: Record<string, unknown> | null;
      };

    // The appliance is offline while two orders are issued and the switch is engaged.
    expect(await p.agent.stop()).toBe(0);
    const before = await snapshots();
    const issued: string[] = [];
    for (const tier of ["L2", "L3"]) {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
        runbook_id: "RB-BACKUP-001-failure",
        params: { job },
        tier,
        ttl_s: 600,
      });
      expect(res.status).toBe(201);
      issued.push((res.body as { order_id: string }).order_id);
    }
    const engaged = await p.admin("/planner/kill-switch", { engaged: true, reason: "drill" });
    expect(engaged.body).toMatchObject({ engaged: true });
    const held = await Promise.all(issued.map(order));
    for (const o of held) {
      expect(o).toMatchObject({
        status: "withdrawn",
        withdrawal: { reason: "kill_switch", by: expect.any(String), previous_status: "pending" },
      });
    }
    // Audited under the operator who engaged the switch.
    const audit = (await p.admin("/audit")).body as {
      actor: string;
      action: string;
      target: string;
      detailJson: string;
    }[];
    const withdrawals = audit.filter((e) => e.action === "order.withdrawn");
    expect(withdrawals.map((e) => e.target.split("/").at(-1)).sort()).toEqual([...issued].sort());
    for (const e of withdrawals) {
      expect(e.actor).toBe(held[0]?.withdrawal?.by);
      expect(JSON.parse(e.detailJson)).toMatchObject({ reason: "kill_switch" });
    }

    // The appliance comes back: its first poll delivers both, named withdrawn.
    restarted = startChild(
      ["agent/src/main.ts", "--config", p.agentConfigPath, "--lab", "--lab-state", p.labStateFile],
      root,
    );
    await eventually(
      "both withdrawals to be reported by the agent",
      async () => {
        const all = await Promise.all(issued.map(order));
        return all.every((o) => o.result?.outcome === "withdrawn") ? all : undefined;
      },
      20_000,
    );
    const events = await eventually(
      "the withdrawal evidence to be pushed",
      async () => {
        const all = await evidence();
        return all.filter((e) => e.kind === "order_withdrawn").length === 2 ? all : undefined;
      },
      20_000,
    );
    expect(
      events.filter((e) => e.kind === "order_withdrawn").map((e) => [e.order_id, e.reason]),
    ).toEqual(issued.map((id) => [id, "kill_switch"]));
    expect(events).toContainEqual({
      kind: "healing_suspension",
      event: "suspended",
      reasons: ["kill_switch"],
      detail: "drill",
    });
    // Never accepted, never run: no acceptance, no step, no result, no new snapshot.
    const ofIssued = events.filter(
      (e) => "order_id" in e && issued.includes(String(e.order_id)) && e.kind !== "order_withdrawn",
    );
    expect(ofIssued).toEqual([]);
    expect(await snapshots()).toBe(before);

    // Lifted: recorded by the agent, and a new order runs.
    await p.admin("/planner/kill-switch", { engaged: false });
    const after = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
      runbook_id: "RB-BACKUP-001-failure",
      params: { job },
      tier: "L3",
      ttl_s: 600,
    });
    const id = (after.body as { order_id: string }).order_id;
    await eventually(
      "the order issued after the lift to run",
      async () => ((await order(id)).status === "succeeded" ? true : undefined),
      20_000,
    );
    expect(await snapshots()).toBe(before + 1);
    await eventually(
      "the lift to be recorded",
      async () =>
        (await evidence()).some((e) => e.kind === "healing_suspension" && e.event === "lifted")
          ? true
          : undefined,
      20_000,
    );
  }, 90_000);
});
