import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import {
  type EvidenceBundle,
  type Incident,
  privateKeyFromPem,
  publicKeyOf,
  verificationKey,
  verifyChain,
} from "#protocol";
import { type Child, eventually, startChild } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * Healing end to end with the real pair: with the control plane down, drift is injected into the
 * running agent's lab appliance; the agent heals what an L1 rule covers (a failed chronyd) and
 * queues an incident for what none covers (high CPU). The control plane comes back on the same
 * address and data, and receives the incident and the evidence of the heal, which verify. Then
 * the kill switch: pause and resume as signed orders, an L2 resume refused.
 */
const TENANT = "heal-clinic";
const APPLIANCE = "heal-clinic-01";
const root = resolve(import.meta.dirname, "..");

let dir: string | undefined;
let pair: LabPair | undefined;
let restarted: Child | undefined;

afterAll(async () => {
  await pair?.agent.stop();
  await pair?.controlPlane.stop();
  await restarted?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("healing with the real control plane", () => {
  it("heals offline, queues the incident, and delivers both once the control plane is back", async () => {
    dir = await mkdtemp(join(tmpdir(), "msp-heal-"));
    pair = await startLabPair({
      dir,
      tenantId: TENANT,
      applianceId: APPLIANCE,
      pollIntervalS: 1,
      checkIntervalS: 10,
    });
    const p = pair;
    await p.enrolled();
    await p.controlPlane.stop();

    p.injectDrift({ kind: "service_failed", unit: "chronyd.service" });
    p.injectDrift({ kind: "cpu_load_high" });
    const journal = join(p.agentConfig.state_dir, "journal.sqlite");
    await eventually(
      "the agent to heal chronyd and queue an incident",
      async () => {
        const state = JSON.parse(await readFile(p.labStateFile, "utf8"));
        const healed = state.units["chronyd.service"].active_state === "active";
        return healed && queued(journal).includes("incident") ? true : undefined;
      },
      20_000,
    );

    const port = new URL(p.baseUrl).port;
    restarted = startChild(
      [
        "control-plane/src/main.ts",
        "serve",
        "--data-dir",
        p.controlPlaneDir,
        "--port",
        port,
        "--host",
        "127.0.0.1",
      ],
      root,
    );
    await restarted.waitFor(/^listening on https:\/\//);
    const incidents = await eventually("the incident to arrive", async () => {
      const res = await p.admin(`/tenants/${TENANT}/incidents`);
      const rows = res.body as { incident: Incident }[];
      return rows.length > 0 ? rows.map((r) => r.incident) : undefined;
    });
    expect(incidents).toEqual([
      expect.objectContaining({
        appliance_id: APPLIANCE,
        check_id: "services",
        findings: [expect.objectContaining({ code: "cpu_load_high" })],
        local_l1: { attempted: false, why_not: expect.stringMatching(/no L1 rule/) },
      }),
    ]);
    const bundles = await eventually("the heal's evidence", async () => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      const body = res.body as { bundles: EvidenceBundle[] };
      return body.bundles.some((b) => b.event.kind === "incident_opened")
        ? body.bundles
        : undefined;
    });
    const key = privateKeyFromPem(await readFile(p.agentConfig.evidence_key_path, "utf8"));
    expect(
      verifyChain(bundles, {
        key: verificationKey(publicKeyOf(key)),
        tenantId: TENANT,
        applianceId: APPLIANCE,
      }).ok,
    ).toBe(true);
    const events = bundles.map((b) => b.event);
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: "healing_attempt",
        runbook_id: "RB-SERVICE-001-crash",
        outcome: "healed",
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: "healing_step",
        action: "systemd.unit_active",
        phase: "verify",
        outcome: "succeeded",
      }),
    );
    // The incident points at the signed check result that saw the drift.
    const seen = bundles.find((b) => b.seq === incidents[0]?.evidence.seq)?.event;
    expect(seen).toMatchObject({ kind: "check_result", check_id: "services", status: "drift" });
    await eventually("the outbox to drain", async () =>
      queued(journal).length === 0 ? true : undefined,
    );

    // The kill switch is an ordinary signed order from the real control plane (tier L3 only).
    const healingMode = async (want: string) =>
      eventually(`status.json to say healing ${want}`, async () => {
        const status = JSON.parse(
          await readFile(join(p.agentConfig.state_dir, "status.json"), "utf8"),
        ) as { healing: string | null };
        return status.healing === want ? true : undefined;
      });
    await healingMode("enforce");
    expect((await p.runOrder({ runbook_id: "RB-HEALING-001-pause" })).status).toBe("succeeded");
    await healingMode("paused");
    const l2 = await p.runOrder({ runbook_id: "RB-HEALING-002-resume", tier: "L2" });
    expect(l2.status).toBe("failed");
    expect((await p.runOrder({ runbook_id: "RB-HEALING-002-resume" })).status).toBe("succeeded");
    await healingMode("enforce");
    const held = await eventually("the kill switch's evidence", async () => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      const kinds = (res.body as { bundles: EvidenceBundle[] }).bundles.flatMap((b) =>
        b.event.kind === "healing_control" ? [b.event.event] : [],
      );
      return kinds.length === 2 ? kinds : undefined;
    });
    expect(held).toEqual(["paused", "resumed"]);
  }, 60_000);
});

function queued(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT kind FROM outbox ORDER BY id").all() as { kind: string }[]).map(
      (r) => r.kind,
    );
  } finally {
    db.close();
  }
}
