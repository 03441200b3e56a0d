import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { randomNonce } from "./encoding.ts";
import { type L1RuleSetContext, verifyL1RuleSet } from "./l1-rule-verification.ts";
import { verifyPollResponse } from "./order-verification.ts";
import type { L1RuleSet } from "./schemas/l1-rules.ts";
import { PollResponse } from "./schemas/orders.ts";
import { createSigner, type Signer, signDocument, verificationKey } from "./signed-document.ts";
import { forgeSigned } from "./testing/forge.ts";

const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
const impostor = createSigner(generateEd25519KeyPair().privateKey);

function ruleSet(overrides: Partial<Omit<L1RuleSet, "sig">> = {}, signer: Signer = controlPlane) {
  return forgeSigned<L1RuleSet>(
    {
      v: 1,
      type: "l1_rule_set",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      version: 3,
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

function context(overrides: Partial<L1RuleSetContext> = {}): L1RuleSetContext {
  return {
    key: verificationKey(controlPlane.publicKey),
    tenantId: "clinic-a",
    applianceId: "clinic-a-01",
    currentVersion: 2,
    runbooks: new Set(["RB-SERVICE-001-crash"]),
    isDeclaredFinding: (check, finding) => check === "services" && finding === "unit_failed",
    ...overrides,
  };
}

describe("verifyL1RuleSet", () => {
  it("accepts a newer set signed by the pinned key for this appliance", () => {
    const verdict = verifyL1RuleSet(ruleSet(), context());
    expect(verdict).toMatchObject({ ok: true, changed: true });
  });

  it("recognises the set already in force and refuses a reused version with other content", () => {
    const set = ruleSet();
    const first = verifyL1RuleSet(set, context());
    if (!first.ok) throw new Error(first.detail);
    const same = verifyL1RuleSet(set, context({ currentVersion: 3, currentHash: first.hash }));
    expect(same).toMatchObject({ ok: true, changed: false });
    const other = verifyL1RuleSet(
      ruleSet({ rules: [] }),
      context({ currentVersion: 3, currentHash: first.hash }),
    );
    expect(other).toMatchObject({ ok: false, reason: "version_reused" });
  });

  const cases: [string, () => unknown, Partial<L1RuleSetContext>][] = [
    ["malformed", () => ({ ...ruleSet(), rules: [{ check_id: "services" }] }), {}],
    ["bad_signature", () => ruleSet({}, impostor), {}],
    ["bad_signature", () => ({ ...ruleSet(), version: 9 }), {}],
    ["wrong_audience", () => ruleSet({ appliance_id: "clinic-a-02" }), {}],
    ["wrong_audience", () => ruleSet({ tenant_id: "clinic-b" }), {}],
    ["version_rollback", () => ruleSet({ version: 1 }), {}],
    ["unknown_runbook", () => ruleSet(), { runbooks: new Set<string>() }],
    ["unknown_finding", () => ruleSet(), { isDeclaredFinding: () => false }],
  ];
  it.each(cases)("refuses %s", (reason, make, overrides) => {
    const verdict = verifyL1RuleSet(make(), context(overrides));
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toBe(reason);
  });

  it("refuses two rules for one pattern", () => {
    const one = ruleSet().rules[0];
    if (!one) throw new Error("no rule");
    const twice = ruleSet({ rules: [one, { ...one, rule_id: randomUUID() }] });
    expect(verifyL1RuleSet(twice, context())).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("travels inside the signed poll response, so a stripped or swapped set breaks the poll", () => {
    const nonce = randomNonce();
    const response = signDocument<PollResponse>(
      PollResponse,
      {
        v: 1,
        type: "poll_response",
        tenant_id: "clinic-a",
        appliance_id: "clinic-a-01",
        nonce,
        order_seq: 0,
        orders: [],
        issued_at: "2026-11-25T12:00:00Z",
        l1_rules: ruleSet(),
      },
      controlPlane,
    );
    const ctx = {
      key: verificationKey(controlPlane.publicKey),
      tenantId: "clinic-a",
      applianceId: "clinic-a-01",
      nonce,
      lastOrderSeq: 0,
      seenOrderIds: new Set<string>(),
      runbooks: new Set<string>(),
      now: new Date("2026-11-25T12:00:00Z"),
    };
    expect(verifyPollResponse(response, ctx).ok).toBe(true);
    const { l1_rules: _dropped, ...stripped } = response;
    expect(verifyPollResponse(stripped, ctx)).toMatchObject({ ok: false, reason: "bad_signature" });
  });
});
