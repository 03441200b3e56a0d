import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../scripts/child-processes.ts";
import { type LabTestPair, startLabTestPair } from "../scripts/lab-test-pair.ts";

/**
 * An expired order with the real agent process: the real control plane cannot issue an order
 * shorter than 60 s, so the agent's test control plane (real HTTPS and mTLS on loopback, orders
 * signed with the key the agent pins) serves an order whose expires_at is already past. The
 * agent bundle that ships (agent/dist/agent.mjs) runs in lab mode: it must refuse the order
 * with evidence outcome `expired`, report it, and run nothing. A valid order queued after it
 * is the control: it runs, so the agent did get that far and the refusal is not a stall.
 */
const HOUR = 60 * 60_000;

let dir: string;
let pair: LabTestPair | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-expired-"));
});
afterAll(async () => {
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("an expired order, end to end with the real agent process", () => {
  it("is discarded with evidence outcome expired, reported, and runs nothing", async () => {
    const p = await startLabTestPair({
      dir,
      tenantId: "e2e-expiry",
      applianceId: "e2e-expiry-01",
      pollIntervalS: 1,
    });
    pair = p;
    const backupJob = (p.agentConfig.host as { backup_jobs: string[] }).backup_jobs[0] ?? "";
    const snapshots = async () =>
      (JSON.parse(await readFile(p.labStateFile, "utf8")).backups[backupJob].snapshots as [])
        .length;
    const snapshotsBefore = await snapshots();

    const now = Date.now();
    p.cp.queueOrder({
      runbook_id: "RB-BACKUP-001-failure",
      params: { job: backupJob },
      issued_at: new Date(now - 2 * HOUR).toISOString(),
      expires_at: new Date(now - HOUR).toISOString(),
    });
    p.cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: { unit: "chronyd.service" } });

    // Both orders reported, and the evidence of both received by the control plane.
    const reports = await eventually(
      "both orders to be reported",
      async () => (p.cp.orderResults.length >= 2 ? [...p.cp.orderResults] : undefined),
      12_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the agent said:\n${p.agent.output.slice(-20).join("\n")}`);
    });
    reports.sort((a, b) => a.order_seq - b.order_seq);
    expect(reports.map((r) => [r.order_seq, r.outcome])).toEqual([
      [1, "expired"],
      [2, "succeeded"],
    ]);
    expect(reports[0]?.reason).toBe("expired");

    const refusal = await eventually(
      "the refusal's evidence to be pushed",
      async () => p.cp.bundles.find((b) => b.event.kind === "order_rejected")?.event,
      12_000,
    );
    expect(refusal).toMatchObject({ order_seq: 1, reason: "expired", outcome: "expired" });
    // Nothing of order 1 ran: no acceptance, no step, no backup snapshot on the lab host (a
    // backup order that runs adds one).
    const ofOrder1 = p.cp.bundles
      .map((b) => b.event)
      .filter((e) => "order_seq" in e && e.order_seq === 1 && e.kind !== "order_rejected");
    expect(ofOrder1).toEqual([]);
    expect(await snapshots()).toBe(snapshotsBefore);
    // The control order did run (its evidence is there): the agent was not merely stalled.
    expect(p.cp.bundles.some((b) => b.event.kind === "order_accepted")).toBe(true);

    expect(await p.stop()).toBe(0);
    pair = undefined;
  }, 30_000);
});
