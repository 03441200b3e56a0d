import {
  canonicalBytes,
  type DecisionDraft,
  type DecisionRecord,
  type Incident,
  type Signer,
  sealDecision,
  sha256Hex,
} from "#protocol";
import type { AuditLog } from "../audit.ts";
import type { Metrics } from "../metrics.ts";
import type { PlannerStore } from "../store/index.ts";

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

export interface DecisionRecorder {
  record(
    incident: Incident,
    candidates: readonly string[],
    fields: DecisionFields,
  ): Promise<DecisionRecord>;
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
  return {
    async record(incident, candidates, fields) {
      const draft: DecisionDraft = {
        tenant_id: incident.tenant_id,
        appliance_id: incident.appliance_id,
        recorded_at: deps.now().toISOString(),
        incident_id: incident.incident_id,
        inputs: incidentInputs(incident, candidates),
        ...fields,
      };
      let record: DecisionRecord | undefined;
      const stored = await deps.store.appendDecision(
        incident.tenant_id,
        incident.appliance_id,
        incident.incident_id,
        (prev) => {
          const sealed = sealDecision(draft, prev, deps.signer);
          record = sealed.record;
          return { json: JSON.stringify(sealed.record), hash: sealed.head.hash };
        },
      );
      deps.metrics?.inc(
        `cp_planner_${fields.tier.toLowerCase()}_${fields.outcome}_total`,
        `Incident decisions at ${fields.tier} with outcome ${fields.outcome}.`,
      );
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
      return record as DecisionRecord;
    },
  };
}
