import {
  canonicalBytes,
  type DecisionDraft,
  type DecisionRecord,
  type GuardrailResult,
  type Incident,
  type Signer,
  sealDecision,
  sha256Hex,
} from "#protocol";
import type { AuditLog } from "../audit.ts";
import type { Metrics } from "../metrics.ts";
import type {
  DecisionCommit,
  GuardrailCounters,
  PlannerStore,
  StoredDecision,
  StoredOrder,
} from "../store/index.ts";

/**
 * Every decision about an incident is recorded twice: as the next record of the appliance's
 * control-plane-signed decision chain (the site's evidence of what the control plane decided,
 * verifiable offline with the order-signing public key), and as an entry of the operator audit
 * log that points at it (seq and hash).
 */
export type DecisionFields = Omit<
  DecisionDraft,
  "tenant_id" | "appliance_id" | "recorded_at" | "incident_id" | "inputs"
>;

/** The state change a decision commits with (see PlannerStore.commitDecision). */
export type DecisionChange = Pick<DecisionCommit, "from" | "to" | "note" | "order">;

/**
 * Guardrails decided inside the committing transaction, under `locks`: the record carries the
 * verdicts `evaluate` returns there; any failed one and nothing is written (`blocked`).
 */
export interface DecisionGuard {
  readonly locks: readonly string[];
  evaluate(counters: GuardrailCounters): Promise<GuardrailResult[]>;
}

export interface DecisionRecorder {
  record(
    incident: Incident,
    candidates: readonly string[],
    fields: DecisionFields,
  ): Promise<DecisionRecord>;
  /**
   * Records the decision and commits it together with its status change (and order) in one
   * transaction; undefined, with nothing written, when the incident is no longer in a `from`
   * status (another worker decided it). The audit entry follows the commit.
   */
  commit(
    incident: Incident,
    candidates: readonly string[],
    fields: DecisionFields,
    change: DecisionChange,
  ): Promise<{ record: DecisionRecord; order: StoredOrder | undefined } | undefined>;
  /**
   * commit, with `guard`'s guardrails decided in the same transaction under its locks: when one
   * fails nothing is written and the answer carries the verdicts (`blocked`).
   */
  commitGuarded(
    incident: Incident,
    candidates: readonly string[],
    fields: DecisionFields,
    change: DecisionChange,
    guard: DecisionGuard,
  ): Promise<
    | { record: DecisionRecord; order: StoredOrder | undefined }
    | { blocked: GuardrailResult[] }
    | undefined
  >;
}

export function incidentInputs(incident: Incident, candidates: readonly string[]) {
  return {
    check_id: incident.check_id,
    findings: incident.findings.map((f) =>
      f.subject === undefined ? { code: f.code } : { code: f.code, subject: f.subject },
    ),
    candidates: [...candidates],
    incident_hash: sha256Hex(canonicalBytes(incident)),
  };
}

export function decisionRecorder(deps: {
  store: PlannerStore;
  signer: Signer;
  audit: AuditLog;
  now: () => Date;
  metrics?: Metrics;
}): DecisionRecorder {
  const draft = (
    incident: Incident,
    candidates: readonly string[],
    fields: () => DecisionFields,
  ) => {
    const base = {
      tenant_id: incident.tenant_id,
      appliance_id: incident.appliance_id,
      recorded_at: deps.now().toISOString(),
      incident_id: incident.incident_id,
      inputs: incidentInputs(incident, candidates),
    };
    let record: DecisionRecord | undefined;
    const seal = (prev: Parameters<typeof sealDecision>[1]) => {
      const d: DecisionDraft = { ...base, ...fields() };
      const sealed = sealDecision(d, prev, deps.signer);
      record = sealed.record;
      return { json: JSON.stringify(sealed.record), hash: sealed.head.hash };
    };
    return { seal, sealed: () => record as DecisionRecord };
  };
  const recorded = async (incident: Incident, fields: DecisionFields, stored: StoredDecision) => {
    deps.metrics?.inc(
      `cp_planner_${fields.tier.toLowerCase()}_${fields.outcome}_total`,
      `Incident decisions at ${fields.tier} with outcome ${fields.outcome}.`,
    );
    if (fields.llm?.failure_code) {
      deps.metrics?.incLabeled(
        "cp_planner_l2_failures_total",
        "Failed L2 model calls by reason (the incident went to L3).",
        { reason: fields.llm.failure_code },
      );
    }
    await deps.audit.record(
      fields.decided_by,
      `incident.${fields.outcome}`,
      `${incident.tenant_id}/${incident.appliance_id}/incident/${incident.incident_id}`,
      {
        tier: fields.tier,
        reason: fields.reason,
        ...(fields.runbook_id ? { runbook_id: fields.runbook_id } : {}),
        ...(fields.order_id ? { order_id: fields.order_id } : {}),
        blocked_by: fields.guardrails.filter((g) => !g.passed).map((g) => g.name),
        decision_seq: stored.seq,
        decision_hash: stored.hash,
      },
    );
  };
  const commitOf = (
    incident: Incident,
    change: DecisionChange,
    seal: DecisionCommit["seal"],
  ): DecisionCommit => ({
    tenantId: incident.tenant_id,
    applianceId: incident.appliance_id,
    incidentId: incident.incident_id,
    at: deps.now().toISOString(),
    ...change,
    seal,
  });
  return {
    async record(incident, candidates, fields) {
      const { seal, sealed } = draft(incident, candidates, () => fields);
      const stored = await deps.store.appendDecision(
        incident.tenant_id,
        incident.appliance_id,
        incident.incident_id,
        seal,
      );
      await recorded(incident, fields, stored);
      return sealed();
    },
    async commit(incident, candidates, fields, change) {
      const { seal, sealed } = draft(incident, candidates, () => fields);
      const committed = await deps.store.commitDecision(commitOf(incident, change, seal));
      if (!committed) return undefined;
      await recorded(incident, fields, committed.decision);
      return { record: sealed(), order: committed.order };
    },
    async commitGuarded(incident, candidates, fields, change, guard) {
      let current = fields;
      const { seal, sealed } = draft(incident, candidates, () => current);
      const committed = await deps.store.commitGuardedDecision(commitOf(incident, change, seal), {
        locks: guard.locks,
        async check(counters) {
          // Evaluated again if the transaction is retried (a lost race on the chain).
          const guardrails = await guard.evaluate(counters);
          current = { ...fields, guardrails };
          return guardrails.every((g) => g.passed);
        },
      });
      if (!committed) return undefined;
      if ("blocked" in committed) return { blocked: current.guardrails };
      await recorded(incident, current, committed.decision);
      return { record: sealed(), order: committed.order };
    },
  };
}
