import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AgentSettings } from "./enrollment.ts";
import { EvidenceEvent } from "./evidence.ts";

// The healer's evidence kinds and the site's healing policy: additive, strict like the rest.
describe("healing evidence", () => {
  const attempt = {
    kind: "healing_attempt",
    runbook_id: "RB-SERVICE-001-crash",
    runbook_version: 1,
    tier: "L1",
    check_id: "services",
    incident_id: randomUUID(),
    outcome: "reverted",
    attempt: 2,
    detail: "systemd.unit_active: chronyd.service is failed; rolled back",
  };

  it.each([
    attempt,
    { kind: "healing_attempt", tier: "L3", outcome: "no_rule" },
    { kind: "healing_control", event: "paused", order_id: randomUUID() },
  ])("accepts %j", (event) => {
    expect(EvidenceEvent.safeParse(event).success).toBe(true);
  });

  it.each([
    { ...attempt, outcome: "fixed" },
    { ...attempt, shell: "true" },
    { ...attempt, detail: "x".repeat(501) },
    { kind: "healing_control", event: "disabled", order_id: randomUUID() },
    { kind: "healing_control", event: "paused" },
  ])("refuses %j", (event) => {
    expect(EvidenceEvent.safeParse(event).success).toBe(false);
  });

  it("lets enrollment settings carry the site's healing policy, and only that", () => {
    const base = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 };
    expect(AgentSettings.safeParse(base).success).toBe(true);
    const audit = { ...base, healing: { mode: "audit", audit_only_checks: ["firewall"] } };
    expect(AgentSettings.safeParse(audit).success).toBe(true);
    expect(
      AgentSettings.safeParse({ ...base, healing: { mode: "off", audit_only_checks: [] } }).success,
    ).toBe(false);
  });
});
