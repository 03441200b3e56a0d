import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EvidenceBundle,
  privateKeyFromPem,
  publicKeyOf,
  verificationKey,
  verifyChain,
} from "#protocol";
import { eventually, startChild } from "../scripts/child-processes.ts";
import { auditorPinsFile, type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * The real pair: the control plane (`control-plane init` + `serve`) and the agent (its entry
 * point, in lab mode so the runbook executor touches nothing on this machine) as child
 * processes, talking HTTPS and mTLS on loopback. The agent enrolls with a one-time token,
 * polls, receives a signed order, executes it, reports, and pushes evidence that the control
 * plane verifies and receipts; the test then verifies the stored chain itself.
 */
const TENANT = "e2e-clinic";
const APPLIANCE = "e2e-clinic-01";

let dir: string;
let pair: LabPair | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-e2e-"));
  pair = await startLabPair({ dir, tenantId: TENANT, applianceId: APPLIANCE, pollIntervalS: 1 });
}, 60_000);

afterAll(async () => {
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("agent and control plane, end to end", () => {
  it("enroll, poll, execute a signed order, and push evidence that both sides verify", async () => {
    const p = pair as LabPair;
    const enrolled = await p.enrolled();
    expect(enrolled.evidence_key_fingerprint).toMatch(/^[0-9a-f]{64}$/);

    const run = await p.runOrder({
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
    });
    expect(run.status).toBe("succeeded");

    // An order for a runbook outside the appliance's allowlist is refused and never run.
    const foreign = await p.runOrder({ runbook_id: "RB-NOPE-001-unknown" });
    expect(foreign.status).toBe("rejected");

    // Evidence: wait until the control plane holds the refusal, then verify the stored chain
    // ourselves with the appliance's public key, from genesis.
    const bundles = await eventually("the evidence to be receipted", async () => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      const body = res.body as { bundles: EvidenceBundle[] };
      return body.bundles.some((b) => b.event.kind === "order_rejected") ? body.bundles : undefined;
    });
    const evidenceKey = privateKeyFromPem(await readFile(p.agentConfig.evidence_key_path, "utf8"));
    const verdict = verifyChain(bundles, {
      key: verificationKey(publicKeyOf(evidenceKey)),
      tenantId: TENANT,
      applianceId: APPLIANCE,
    });
    expect(verdict.ok).toBe(true);
    expect(bundles.map((b) => b.event.kind)).toEqual(
      expect.arrayContaining([
        "agent_lifecycle",
        "order_accepted",
        "healing_step",
        "order_result",
        "order_rejected",
      ]),
    );
    // The six drift checks ran against the clean lab host: each passed, with its citations.
    const checks = bundles.flatMap((b) => (b.event.kind === "check_result" ? [b.event] : []));
    expect(checks.slice(0, 6).map((c) => [c.check_id, c.status])).toEqual(
      ["patching", "services", "backups", "firewall", "logging", "encryption"].map((id) => [
        id,
        "pass",
      ]),
    );
    expect(checks.every((c) => (c.citations?.length ?? 0) > 0)).toBe(true);
    const refusal = bundles.find((b) => b.event.kind === "order_rejected")?.event;
    expect(refusal).toMatchObject({ outcome: "rejected", reason: "unknown_runbook" });

    // The agent holds the control plane's signed receipts: its status shows nothing queued.
    const status = await eventually("the backlog to drain", async () => {
      const text = await readFile(join(p.agentConfig.state_dir, "status.json"), "utf8");
      const s = JSON.parse(text) as { backlog: number };
      return s.backlog === 0 ? s : undefined;
    });
    expect(status.backlog).toBe(0);

    // The vault: the appliance verified a signed checkpoint of its own log, and an
    // export of everything so far passes the offline verifier run as a separate process.
    const checkpointed = await eventually("a checkpoint_verified bundle", async () => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      const body = res.body as { bundles: EvidenceBundle[] };
      return body.bundles.find((b) => b.event.kind === "checkpoint_verified");
    });
    expect(checkpointed.event).toMatchObject({ kind: "checkpoint_verified" });
    const exported = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/exports`, {
      from: "2000-01-01T00:00:00Z",
      to: "2100-01-01T00:00:00Z",
    });
    expect(exported.status).toBe(201);
    const { export_id } = exported.body as { export_id: string };
    const exportDir = join(p.controlPlaneDir, "exports", TENANT, APPLIANCE, export_id);
    // Pinned from what the appliance shows itself: its status and its configured control-plane key.
    const pins = await auditorPinsFile(
      [{ applianceId: APPLIANCE, agentConfig: p.agentConfig }],
      TENANT,
      join(p.controlPlaneDir, "pins.json"),
    );
    const verifier = startChild(
      ["verifier/main.ts", exportDir, "--pins", pins],
      join(import.meta.dirname, ".."),
    );
    expect(await new Promise((r) => verifier.process.once("exit", r))).toBe(0);
    expect(verifier.output.join("\n")).toMatch(/OK: every signature/);
    expect(verifier.output.join("\n")).toMatch(/enrollment statement verified/);
    expect(verifier.output.join("\n")).toMatch(/witness cosignatures verified [1-9]/);
    // The control plane kept the cosignatures it received in its own table; the export lists them.
    expect(verifier.output.join("\n")).toMatch(/[1-9]\d* as stored by the control plane/);

    expect(await p.stop()).toEqual([0, 0]);
    pair = undefined;
  }, 120_000);
});
