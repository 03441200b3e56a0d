import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createSigner,
  type EvidenceEvent,
  generateEd25519KeyPair,
  L1RuleSet,
  PollResponse,
  type Signer,
  signDocument,
  verificationKey,
} from "#protocol";
import { runAgent } from "../agent.ts";
import { type AgentWorld, createAgentWorld, TEST_RUNBOOKS } from "../testing/fixture.ts";
import { type FlywheelBinding, flywheelRules, RULE_SET_FILE } from "./rule-set.ts";

const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
const impostor = createSigner(generateEd25519KeyPair().privateKey);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function ruleSet(
  overrides: Partial<Omit<L1RuleSet, "sig">> = {},
  signer: Signer = controlPlane,
): L1RuleSet {
  return signDocument<L1RuleSet>(
    L1RuleSet,
    {
      v: 1,
      type: "l1_rule_set",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      version: 1,
      issued_at: "2026-11-25T12:00:00Z",
      rules: [
        {
          rule_id: randomUUID(),
          check_id: "services",
          finding: "unit_failed",
          runbook_id: "RB-SERVICE-001-crash",
          approved_by: "operator:alice",
          approved_at: "2026-11-25T11:59:00Z",
          successes: 5,
        },
      ],
      ...overrides,
    },
    signer,
  );
}

/** A bound source over a temp state dir; evidence and the high-water mark kept in memory. */
function source(dir = mkdtempSync(join(tmpdir(), "flywheel-")), state = new Map<string, number>()) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const evidence: EvidenceEvent[] = [];
  const rules = flywheelRules({ stateDir: dir, allowlist: TEST_RUNBOOKS });
  const binding: FlywheelBinding = {
    key: verificationKey(controlPlane.publicKey),
    tenantId: "clinic-a",
    applianceId: "clinic-a-01",
    record: (events) => evidence.push(...events),
    highWater: { get: () => state.get("v") ?? 0, set: (v) => state.set("v", v) },
  };
  rules.bind(binding);
  return { rules, evidence, dir, state };
}

describe("the flywheel's L1 rule source", () => {
  it("adopts a verified set: rules(), a file in state_dir, and evidence", () => {
    const { rules, evidence, dir } = source();
    expect(rules.rules()).toEqual([]);
    const set = ruleSet();
    expect(rules.offer(set)).toMatchObject({ ok: true, changed: true });
    expect(rules.rules()).toEqual([
      {
        ruleId: set.rules[0]?.rule_id,
        check: "services",
        finding: "unit_failed",
        runbookId: "RB-SERVICE-001-crash",
        source: "flywheel",
        version: 1,
      },
    ]);
    expect(JSON.parse(readFileSync(join(dir, RULE_SET_FILE), "utf8"))).toEqual(set);
    expect(evidence).toEqual([
      {
        kind: "l1_rules_applied",
        version: 1,
        rule_set_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        rules: 1,
      },
    ]);
    // The same set on the next poll changes nothing and records nothing.
    expect(rules.offer(set)).toMatchObject({ ok: true, changed: false });
    expect(evidence).toHaveLength(1);
  });

  it.each([
    ["bad_signature", () => ruleSet({ version: 2 }, impostor)],
    ["bad_signature", () => ({ ...ruleSet({ version: 2 }), rules: [] })],
    ["wrong_audience", () => ruleSet({ version: 2, appliance_id: "clinic-a-02" })],
    ["version_rollback", () => ruleSet({ version: 1 })],
    ["version_reused", () => ruleSet({ version: 3, rules: [] })],
    [
      "unknown_runbook",
      () => {
        const set = ruleSet({ version: 4 });
        return ruleSet({
          version: 4,
          rules: [
            { ...(set.rules[0] as L1RuleSet["rules"][0]), runbook_id: "RB-PATCH-001-generation" },
          ],
        });
      },
    ],
    [
      "unknown_finding",
      () => {
        const set = ruleSet({ version: 4 });
        return ruleSet({
          version: 4,
          rules: [{ ...(set.rules[0] as L1RuleSet["rules"][0]), finding: "made_up_finding" }],
        });
      },
    ],
    ["malformed", () => ({ type: "l1_rule_set", rules: "all of them" })],
  ])("refuses %s, records it once, and keeps the set in force", (reason, make) => {
    const { rules, evidence } = source();
    rules.offer(ruleSet({ version: 3 }));
    const inForce = rules.rules();
    const bad = make();
    expect(rules.offer(bad)).toMatchObject({ ok: false, reason });
    rules.offer(bad);
    expect(rules.rules()).toEqual(inForce);
    const refusals = evidence.filter((e) => e.kind === "l1_rules_refused");
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ kind: "l1_rules_refused", reason });
  });

  it("keeps the set across a restart, and refuses a file changed or rolled back on disk", () => {
    const first = source();
    first.rules.offer(ruleSet({ version: 1 }));
    const v2 = ruleSet({ version: 2 });
    first.rules.offer(v2);
    const restarted = source(first.dir, first.state);
    expect(restarted.rules.version()).toBe(2);
    expect(restarted.rules.rules()).toHaveLength(1);

    const path = join(first.dir, RULE_SET_FILE);
    writeFileSync(path, JSON.stringify({ ...v2, rules: [] }));
    const tampered = source(first.dir, first.state);
    expect(tampered.rules.rules()).toEqual([]);
    expect(tampered.evidence[0]).toMatchObject({
      kind: "l1_rules_refused",
      reason: "bad_signature",
    });

    writeFileSync(path, JSON.stringify(ruleSet({ version: 1 })));
    const rolledBack = source(first.dir, first.state);
    expect(rolledBack.rules.rules()).toEqual([]);
    expect(rolledBack.evidence[0]).toMatchObject({
      kind: "l1_rules_refused",
      reason: "version_rollback",
    });
    // The control plane's current set is accepted again; an older one is not.
    expect(rolledBack.rules.offer(ruleSet({ version: 1 }))).toMatchObject({
      ok: false,
      reason: "version_rollback",
    });
    expect(rolledBack.rules.offer(v2)).toMatchObject({ ok: true, changed: true });
  });
});

describe("the agent loop with signed rule sets", () => {
  let world: AgentWorld;
  afterEach(async () => world?.cleanup());

  it("takes the set from a verified poll response, persists it, and pushes the evidence", async () => {
    world = await createAgentWorld();
    const signer = world.cpSigner;
    world.cp.pollHook = (response) => {
      const { sig: _sig, ...unsigned } = response;
      const set = signDocument<L1RuleSet>(
        L1RuleSet,
        {
          ...unsignedRuleSet(),
          tenant_id: response.tenant_id,
          appliance_id: response.appliance_id,
        },
        signer,
      );
      return signDocument<PollResponse>(PollResponse, { ...unsigned, l1_rules: set }, signer);
    };
    const l1Rules = flywheelRules({ stateDir: world.config.state_dir, allowlist: TEST_RUNBOOKS });
    await runAgent(world.deps({ l1Rules, maxCycles: 2 }), new AbortController().signal);
    expect(l1Rules.rules().map((r) => [r.check, r.finding, r.runbookId])).toEqual([
      ["services", "unit_failed", "RB-SERVICE-001-crash"],
    ]);
    const applied = world.cp.bundles.filter((b) => b.event.kind === "l1_rules_applied");
    expect(applied).toHaveLength(1);

    // A response whose rule set was swapped after signing is refused as a whole.
    world.cp.pollHook = (response) => ({
      ...response,
      l1_rules: ruleSet({ version: 9 }, impostor),
    });
    const again = flywheelRules({ stateDir: world.config.state_dir, allowlist: TEST_RUNBOOKS });
    await runAgent(world.deps({ l1Rules: again, maxCycles: 1 }), new AbortController().signal);
    expect(again.version()).toBe(1);
  });
});

function unsignedRuleSet(): Omit<L1RuleSet, "sig"> {
  const { sig: _sig, ...rest } = ruleSet();
  return rest;
}
