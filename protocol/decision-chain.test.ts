import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type DecisionDraft, sealDecision, verifyDecisionChain } from "./decision-chain.ts";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { GENESIS_HEAD } from "./evidence-chain.ts";
import type { DecisionRecord } from "./schemas/decision.ts";
import { createSigner, verificationKey } from "./signed-document.ts";

const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
const key = verificationKey(controlPlane.publicKey);
const options = { key, tenantId: "clinic-a", applianceId: "clinic-a-01" };

function draft(outcome: DecisionDraft["outcome"]): DecisionDraft {
  return {
    tenant_id: "clinic-a",
    appliance_id: "clinic-a-01",
    recorded_at: "2026-11-25T12:00:00Z",
    incident_id: randomUUID(),
    tier: "L2",
    decided_by: "l2:local-model",
    outcome,
    reason: "test",
    inputs: {
      check_id: "services",
      findings: [{ code: "unit_failed", subject: "chronyd.service" }],
      candidates: ["RB-SERVICE-001-crash"],
      incident_hash: "a".repeat(64),
    },
    guardrails: [{ name: "kill_switch", passed: true, detail: "off" }],
  };
}

function chainOf(n: number): DecisionRecord[] {
  const records: DecisionRecord[] = [];
  let head = GENESIS_HEAD;
  for (let i = 0; i < n; i++) {
    const sealed = sealDecision(draft(i % 2 ? "escalated" : "order_issued"), head, controlPlane);
    records.push(sealed.record);
    head = sealed.head;
  }
  return records;
}

function verifyHead(records: DecisionRecord[]): string {
  const verdict = verifyDecisionChain(records, options);
  if (!verdict.ok) throw new Error(verdict.detail);
  return verdict.head.hash;
}

describe("decision chain", () => {
  it.each([
    ["a fractional token count", { prompt_tokens: 1.5 }],
    ["a negative token count", { completion_tokens: -3 }],
    ["a latency that is not a number", { latency_ms: Number.NaN }],
  ])("refuses to seal a record with %s: the chain stays verifiable", (_name, usage) => {
    const records = chainOf(2);
    const head = { seq: 2, hash: verifyHead(records) };
    const bad: DecisionDraft = {
      ...draft("order_issued"),
      llm: {
        model: "m",
        latency_ms: 10,
        attempts: 1,
        request_hash: "b".repeat(64),
        ...usage,
      },
    };
    expect(() => sealDecision(bad, head, controlPlane)).toThrow(/refusing to sign/);
    const next = sealDecision(draft("escalated"), head, controlPlane);
    expect(verifyDecisionChain([...records, next.record], options)).toMatchObject({
      ok: true,
      count: 3,
    });
  });

  it("verifies a chain of control-plane-signed decisions", () => {
    expect(verifyDecisionChain(chainOf(3), options)).toMatchObject({ ok: true, count: 3 });
  });

  it("catches a rewritten, dropped or foreign record", () => {
    const records = chainOf(3);
    const rewritten = records.map((r, i) => (i === 1 ? { ...r, reason: "changed" } : r));
    expect(verifyDecisionChain(rewritten, options)).toMatchObject({ ok: false, index: 1 });
    expect(verifyDecisionChain([records[0], records[2]], options)).toMatchObject({
      ok: false,
      index: 1,
    });
    expect(verifyDecisionChain(records, { ...options, applianceId: "clinic-a-02" })).toMatchObject({
      ok: false,
      index: 0,
    });
  });
});
