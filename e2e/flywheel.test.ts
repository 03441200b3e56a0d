import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EvidenceBundle,
  type Incident,
  L1RuleSet,
  parseMessage,
  publicKeyFromBase64,
  verificationKey,
  verifyL1RuleSet,
} from "#protocol";
import { eventually, httpsJson } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * The data flywheel across the real processes: `control-plane serve` with the L2 planner
 * pointed at a local OpenAI-compatible server (this test's, on loopback), and the real agent
 * in lab mode. Incidents are posted with the agent's own client certificate (the healer that
 * will send them itself is another branch); the agent receives the L2 orders, runs them,
 * pushes the evidence and reports; after N verified successes the control plane proposes an
 * L1 rule, the test approves it as an operator would, and the agent verifies, persists and
 * records the signed rule set it then receives in its poll.
 */
const TENANT = "fly-clinic";
const APPLIANCE = "fly-clinic-01";
const N = 3;

let dir: string;
let pair: LabPair | undefined;
let model: Server;
const modelRequests: unknown[] = [];

/** A minimal OpenAI-compatible server: always the first runbook the schema allows. */
function startModel(): Promise<string> {
  model = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    modelRequests.push(body);
    const ids: string[] = body.response_format.json_schema.schema.properties.runbook_id.enum;
    const content = JSON.stringify({ runbook_id: ids[0], confidence: 0.9, rationale: "fits" });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "chatcmpl-e2e",
        object: "chat.completion",
        created: 0,
        model: body.model,
        choices: [
          {
            index: 0,
            finish_reason: "stop",
            logprobs: null,
            message: { role: "assistant", content, refusal: null },
          },
        ],
        usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 },
      }),
    );
  });
  return new Promise((resolve) =>
    model.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`),
    ),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-flywheel-"));
  const baseUrl = await startModel();
  pair = await startLabPair({
    dir,
    tenantId: TENANT,
    applianceId: APPLIANCE,
    pollIntervalS: 1,
    controlPlaneConfig: {
      planner: { llm: { base_url: baseUrl, model: "local-e2e" }, flywheel_min_successes: N },
    },
  });
  await pair.enrolled();
}, 60_000);

afterAll(async () => {
  await pair?.stop();
  await new Promise<void>((r) => model?.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe("data flywheel, end to end", () => {
  it("N verified L2 heals → proposal → approval → the agent adopts the signed rule set", async () => {
    const p = pair as LabPair;
    const state = String(p.agentConfig.state_dir);
    const client = {
      certPem: await readFile(join(state, "client-cert.pem"), "utf8"),
      keyPem: await readFile(String(p.agentConfig.tls_key_path), "utf8"),
    };
    // One appliance heals the same finding N times: lift the per-runbook cooldown for the test.
    const policy = await p.admin(`/tenants/${TENANT}/planner-policy`, { cooldown_s: 0 }, "PUT");
    expect(policy.status).toBe(200);

    const occurrence = async () => {
      const incident: Incident = {
        v: 1,
        type: "incident",
        incident_id: randomUUID(),
        tenant_id: TENANT,
        appliance_id: APPLIANCE,
        check_id: "services",
        severity: "high",
        detected_at: new Date().toISOString(),
        findings: [{ code: "cpu_load_high", subject: "chronyd.service" }],
        evidence: { seq: 0, hash: "0".repeat(64) },
        local_l1: { attempted: false, why_not: "no local rule for this finding" },
      };
      const sent = await httpsJson(`${p.baseUrl}/v1/appliance/incidents`, {
        caPem: p.caPem,
        client,
        body: incident,
      });
      expect(sent.status).toBe(200);
      return eventually(`incident ${incident.incident_id} to be healed`, async () => {
        const res = await p.admin(
          `/tenants/${TENANT}/appliances/${APPLIANCE}/incidents/${incident.incident_id}`,
        );
        const body = res.body as { status: string; decisions: { outcome: string; tier: string }[] };
        if (body.status === "escalated") throw new Error(`escalated: ${JSON.stringify(body)}`);
        return body.status === "resolved" ? body : undefined;
      });
    };

    for (let i = 0; i < N; i++) {
      const healed = await occurrence();
      expect(healed.decisions.map((d) => `${d.tier}:${d.outcome}`)).toEqual([
        "L2:order_issued",
        "L2:outcome_verified",
      ]);
    }
    expect(modelRequests).toHaveLength(N);

    const proposals = (await p.admin(`/tenants/${TENANT}/rule-proposals`)).body as {
      proposal_id: string;
      pattern: string;
      status: string;
    }[];
    expect(proposals).toMatchObject([{ pattern: "services/cpu_load_high", status: "proposed" }]);
    const approved = await p.admin(
      `/tenants/${TENANT}/rule-proposals/${proposals[0]?.proposal_id}/approve`,
      { note: "five clean restarts" },
    );
    expect(approved.body).toMatchObject({ status: "approved", rule_set_version: 1 });

    // The agent verifies the set from its next poll and persists it in its state dir.
    const file = join(state, "l1-rules.json");
    await eventually("the agent to persist the rule set", async () =>
      existsSync(file) ? true : undefined,
    );
    const persisted = parseMessage(L1RuleSet, JSON.parse(await readFile(file, "utf8")), "rule set");
    const key = publicKeyFromBase64(String(p.agentConfig.order_signing_public_key));
    expect(
      verifyL1RuleSet(persisted, {
        key: verificationKey(key),
        tenantId: TENANT,
        applianceId: APPLIANCE,
        currentVersion: 0,
        runbooks: new Set(["RB-CPU-001-high"]),
      }),
    ).toMatchObject({ ok: true });
    expect(persisted.rules).toMatchObject([
      { check_id: "services", finding: "cpu_load_high", runbook_id: "RB-CPU-001-high" },
    ]);
    // …and records it as evidence, which the control plane verified and stored.
    await eventually("the l1_rules_applied evidence", async () => {
      const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
      const bundles = (res.body as { bundles: EvidenceBundle[] }).bundles;
      return bundles.find((b) => b.event.kind === "l1_rules_applied");
    });
    // The control plane's decision chain for this appliance verifies end to end.
    const decisions = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/decisions`);
    expect((decisions.body as { verified: boolean }).verified).toBe(true);
  }, 60_000);
});
