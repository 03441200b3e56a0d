import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
import { eventually } from "../scripts/child-processes.ts";
import { injectDrift, type LabAgent, type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * The data flywheel across the real processes: `control-plane serve` with the L2 planner pointed
 * at a local OpenAI-compatible server (this test's, on loopback) and real agents in lab mode
 * with the healer. Appliance A's lab host gets a failed unit that no shipped L1 rule covers: A
 * opens an incident, the control plane's L2 planner orders the runbook, A heals, reports and
 * pushes the evidence. After N verified L2 successes the control plane proposes an L1 rule; the
 * test approves it as an operator. Appliance B of the same site, started with the same drift,
 * receives the signed rule set in its first poll, verifies and persists it, and heals locally
 * with the flywheel rule: no incident, no order, no model call.
 *
 * The site's catalog keeps RB-SERVICE-001-crash at L2/L3 (a copy of this repository's catalog
 * with that one change): in the shipped catalog every runbook the lab can heal is already an L1
 * rule, and the appliance prefers its shipped rules, so a flywheel rule would never run there.
 * N is 1 here because one appliance may run a runbook only once per cooldown (15 min); the
 * threshold itself (N = 3, default 5) is covered by control-plane/src/planner/flywheel.test.ts.
 */
const TENANT = "fly-clinic";
const N = 1;
const root = resolve(import.meta.dirname, "..");
const drift = { kind: "service_failed", unit: "chronyd.service" } as const;

let dir: string;
let pair: LabPair | undefined;
let second: LabAgent | undefined;
let third: LabAgent | undefined;
let model: Server;
let modelCalls = 0;

/** A minimal OpenAI-compatible server: always the first runbook the schema allows. */
function startModel(): Promise<string> {
  model = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    modelCalls++;
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
  return new Promise((r) =>
    model.listen(0, "127.0.0.1", () =>
      r(`http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`),
    ),
  );
}

/** This repository's catalog with RB-SERVICE-001-crash allowed only at L2 and L3. */
async function siteCatalog(): Promise<string> {
  const catalog = join(dir, "catalog");
  await cp(join(root, "baseline"), join(catalog, "baseline"), { recursive: true });
  await cp(join(root, "runbooks"), join(catalog, "runbooks"), { recursive: true });
  const file = join(catalog, "runbooks", "RB-SERVICE-001-crash.yaml");
  const text = await readFile(file, "utf8");
  if (!text.includes("tiers: [L1, L2, L3]")) throw new Error("RB-SERVICE-001-crash changed");
  await writeFile(file, text.replace("tiers: [L1, L2, L3]", "tiers: [L2, L3]"));
  return catalog;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-flywheel-"));
  const [baseUrl, catalogDir] = await Promise.all([startModel(), siteCatalog()]);
  pair = await startLabPair({
    dir,
    tenantId: TENANT,
    applianceId: "fly-clinic-a",
    pollIntervalS: 1,
    checkIntervalS: 10,
    catalogDir,
    controlPlaneConfig: {
      catalog_dir: catalogDir,
      planner: { llm: { base_url: baseUrl, model: "local-e2e" }, flywheel_min_successes: N },
      // One operator approves, lifts and enforces here; the second approval has its own tests.
      two_person_rule: { promote_rule: false, enforce_healing: false, lift_kill_switch: false },
    },
    // L2 is off until the model is qualified: a signed passing report, recorded before serve.
    qualifiedModel: { baseUrl, model: "local-e2e" },
  });
  await pair.enrolled();
}, 60_000);

afterAll(async () => {
  await second?.agent.stop();
  await third?.agent.stop();
  await pair?.stop();
  await new Promise<void>((r) => model?.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

const evidenceOf = async (p: LabPair, appliance: string) => {
  const res = await p.admin(`/tenants/${TENANT}/appliances/${appliance}/evidence?limit=1000`);
  return (res.body as { bundles: EvidenceBundle[] }).bundles;
};

describe("data flywheel, end to end", () => {
  it("L2 heals → proposal → approval → another appliance heals the next occurrence locally", async () => {
    const p = pair as LabPair;

    // Appliance A: no local L1 rule → incident → L2 order → healed and verified.
    p.injectDrift(drift);
    const incident = await eventually(
      "A's incident to be healed through L2",
      async () => {
        const rows = (await p.admin(`/tenants/${TENANT}/escalations?status=resolved`)).body as {
          incident: Incident;
        }[];
        return rows[0]?.incident;
      },
      30_000,
    );
    expect(incident).toMatchObject({
      check_id: "services",
      findings: [expect.objectContaining({ code: "unit_failed", subject: "chronyd.service" })],
      local_l1: { attempted: false },
    });
    const state = await p.admin(
      `/tenants/${TENANT}/appliances/fly-clinic-a/incidents/${incident.incident_id}`,
    );
    expect(
      (state.body as { decisions: { tier: string; outcome: string }[] }).decisions.map(
        (d) => `${d.tier}:${d.outcome}`,
      ),
    ).toEqual(["L2:order_issued", "L2:outcome_verified"]);
    expect(modelCalls).toBe(N);

    // The flywheel proposes; an operator approves.
    const proposals = (await p.admin(`/tenants/${TENANT}/rule-proposals`)).body as {
      proposal_id: string;
      pattern: string;
      runbook_id: string;
    }[];
    expect(proposals).toMatchObject([
      { pattern: "services/unit_failed", runbook_id: "RB-SERVICE-001-crash" },
    ]);
    const approved = await p.admin(
      `/tenants/${TENANT}/rule-proposals/${proposals[0]?.proposal_id}/approve`,
      { note: "clean L2 heals" },
    );
    expect(approved.body).toMatchObject({ status: "approved", rule_set_version: 1 });

    // Appliance B starts with the same drift: its first poll brings the signed rule set, and
    // its first round of checks heals the unit locally with the flywheel rule.
    second = await p.addAgent("fly-clinic-b", [drift]);
    const b = second;
    const bundles = await eventually(
      "B to heal locally",
      async () => {
        const all = await evidenceOf(p, "fly-clinic-b");
        return all.some((x) => x.event.kind === "healing_attempt" && x.event.outcome === "healed")
          ? all
          : undefined;
      },
      30_000,
    );
    const events = bundles.map((x) => x.event);
    const applied = events.findIndex((e) => e.kind === "l1_rules_applied");
    const healed = events.findIndex((e) => e.kind === "healing_attempt" && e.outcome === "healed");
    expect(applied).toBeGreaterThanOrEqual(0);
    expect(applied).toBeLessThan(healed);
    expect(events[healed]).toMatchObject({
      kind: "healing_attempt",
      tier: "L1",
      runbook_id: "RB-SERVICE-001-crash",
      check_id: "services",
    });
    expect(events[healed]).not.toHaveProperty("order_id");
    const lab = JSON.parse(await readFile(b.labStateFile, "utf8"));
    expect(lab.units["chronyd.service"].active_state).toBe("active");

    // Locally means: no incident from B, no order for B, no further model call.
    const incidents = (await p.admin(`/tenants/${TENANT}/incidents`)).body as {
      incident: Incident;
    }[];
    expect(incidents.filter((r) => r.incident.appliance_id === "fly-clinic-b")).toEqual([]);
    const bRecord = (await p.admin(`/tenants/${TENANT}/appliances/fly-clinic-b`)).body as {
      order_seq: number;
    };
    expect(bRecord.order_seq).toBe(0);
    expect(modelCalls).toBe(N);

    // B persisted the set it verified, signed by the key it pins, addressed to it.
    const persisted = parseMessage(
      L1RuleSet,
      JSON.parse(await readFile(join(b.agentConfig.state_dir, "l1-rules.json"), "utf8")),
      "rule set",
    );
    const key = publicKeyFromBase64(String(b.agentConfig.order_signing_public_key));
    expect(
      verifyL1RuleSet(persisted, {
        key: verificationKey(key),
        tenantId: TENANT,
        applianceId: "fly-clinic-b",
        currentVersion: 0,
        runbooks: new Set(["RB-SERVICE-001-crash"]),
      }),
    ).toMatchObject({ ok: true, ruleSet: { version: 1 } });
    const decisions = await p.admin(`/tenants/${TENANT}/appliances/fly-clinic-a/decisions`);
    expect((decisions.body as { verified: boolean }).verified).toBe(true);
  }, 90_000);

  it("kill switch and audit-only suspend the rule set: a new appliance applies nothing; lifting restores it", async () => {
    const p = pair as LabPair;
    const b = second as LabAgent;
    const events = async (appliance: string) =>
      (await evidenceOf(p, appliance)).map((x) => x.event);
    const lastSeq = async (appliance: string) => (await evidenceOf(p, appliance)).length;
    expect((await p.admin("/planner/kill-switch", { engaged: true, reason: "drill" })).status).toBe(
      200,
    );
    expect(
      (await p.admin(`/tenants/${TENANT}/planner-policy`, { audit_only: true }, "PUT")).status,
    ).toBe(200);

    // B holds the rule set in force: it records the suspension, and the same drift is held.
    await eventually(
      "B to record the suspension",
      async () =>
        (await events("fly-clinic-b")).some(
          (e) => e.kind === "healing_suspension" && e.event === "suspended",
        ) || undefined,
      20_000,
    );
    const bFrom = await lastSeq("fly-clinic-b");
    injectDrift(b.labStateFile, drift);
    const held = await eventually(
      "B to hold its flywheel rule",
      async () =>
        (await events("fly-clinic-b"))
          .slice(bFrom)
          .find((e) => e.kind === "healing_attempt" && e.runbook_id === "RB-SERVICE-001-crash"),
      30_000,
    );
    expect(held).toMatchObject({ tier: "L1", outcome: "suspended" });

    // C enrols while both hold, with the same drift: no rule set, nothing applied, no order.
    third = await p.addAgent("fly-clinic-c", [drift]);
    const c = third;
    const cEvents = await eventually(
      "C to record the suspension and report the drift",
      async () => {
        const all = await events("fly-clinic-c");
        const suspended = all.some((e) => e.kind === "healing_suspension");
        return suspended && all.some((e) => e.kind === "incident_opened") ? all : undefined;
      },
      30_000,
    );
    expect(cEvents).toContainEqual({
      kind: "healing_suspension",
      event: "suspended",
      reasons: ["kill_switch", "audit_only"],
      detail: "drill",
    });
    expect(cEvents.some((e) => e.kind === "l1_rules_applied")).toBe(false);
    expect(cEvents.some((e) => e.kind === "healing_attempt" && e.outcome === "healed")).toBe(false);
    await expect(
      readFile(join(c.agentConfig.state_dir, "l1-rules.json"), "utf8"),
    ).rejects.toThrow();
    const labC = JSON.parse(await readFile(c.labStateFile, "utf8"));
    expect(labC.units["chronyd.service"].active_state).not.toBe("active");
    // Its incident goes to a person, not to the model: the switch blocks every automatic order.
    await eventually(
      "C's incident to reach the operator queue",
      async () => {
        const rows = (await p.admin(`/tenants/${TENANT}/escalations`)).body as {
          appliance_id: string;
        }[];
        return rows.some((r) => r.appliance_id === "fly-clinic-c") || undefined;
      },
      20_000,
    );
    const cRecord = (await p.admin(`/tenants/${TENANT}/appliances/fly-clinic-c`)).body as {
      order_seq: number;
    };
    expect(cRecord.order_seq).toBe(0);
    expect(modelCalls).toBe(N);

    // Lifted: C receives the same approved set (no re-approval) and heals the next drift with it.
    await p.admin("/planner/kill-switch", { engaged: false });
    await p.admin(`/tenants/${TENANT}/planner-policy`, { audit_only: false }, "PUT");
    const applied = await eventually(
      "C to apply the rule set",
      async () => (await events("fly-clinic-c")).find((e) => e.kind === "l1_rules_applied"),
      20_000,
    );
    expect(applied).toMatchObject({ version: 1, rules: 1 });
    const cFrom = await lastSeq("fly-clinic-c");
    injectDrift(c.labStateFile, { kind: "service_failed", unit: "auditd.service" });
    const healed = await eventually(
      "C to heal locally with the flywheel rule",
      async () =>
        (await events("fly-clinic-c"))
          .slice(cFrom)
          .find((e) => e.kind === "healing_attempt" && e.outcome === "healed"),
      30_000,
    );
    expect(healed).toMatchObject({ tier: "L1", runbook_id: "RB-SERVICE-001-crash" });
    expect(healed).not.toHaveProperty("order_id");
    expect(
      (await events("fly-clinic-b")).some(
        (e) => e.kind === "healing_suspension" && e.event === "lifted",
      ),
    ).toBe(true);
  }, 120_000);
});
