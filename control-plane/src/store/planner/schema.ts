/** Row types of the planner's tables (migration 0002_planner). Times and JSON are text. */
export interface SitePoliciesTable {
  tenant_id: string;
  policy_json: string;
  updated_at: string;
  updated_by: string;
}

export interface PlannerControlTable {
  id: string;
  kill_switch: number;
  reason: string;
  updated_at: string;
  updated_by: string;
}

export interface IncidentStateTable {
  tenant_id: string;
  appliance_id: string;
  incident_id: string;
  status: string;
  updated_at: string;
  /** What the last step decided (runbook suggested, guardrail that blocked, operator note). */
  note_json: string;
}

export interface IncidentAttemptsTable {
  order_id: string;
  tenant_id: string;
  appliance_id: string;
  incident_id: string;
  runbook_id: string;
  tier: string;
  pattern_key: string;
  created_at: string;
  status: string;
  finished_at: string | null;
}

export interface DecisionRecordsTable {
  tenant_id: string;
  appliance_id: string;
  seq: number;
  hash: string;
  incident_id: string;
  record_json: string;
}

export interface RuleProposalsTable {
  proposal_id: string;
  tenant_id: string;
  pattern_key: string;
  check_id: string;
  finding: string;
  runbook_id: string;
  successes: number;
  status: string;
  created_at: string;
  decided_at: string | null;
  decided_by: string | null;
  note: string | null;
}

export interface L1RuleSetsTable {
  tenant_id: string;
  version: number;
  issued_at: string;
  rules_json: string;
}

/**
 * Migration 0007: one row per qualification run of a model (`planner qualify`); 0015 adds the
 * model server's base URL ('' on rows written before, which then match no configured server).
 */
export interface ModelQualificationsTable {
  base_url: string;
  model: string;
  recorded_at: string;
  passed: number;
  report_json: string;
  recorded_by: string;
}

/** Migration 0009: one row per lock scope (`tenant:<id>`, `runbook:<id>`), see guardrail-locks.ts. */
export interface GuardrailLocksTable {
  scope: string;
  taken_at: string;
}

export interface PlannerTables {
  guardrail_locks: GuardrailLocksTable;
  model_qualifications: ModelQualificationsTable;
  site_policies: SitePoliciesTable;
  planner_control: PlannerControlTable;
  incident_state: IncidentStateTable;
  incident_attempts: IncidentAttemptsTable;
  decision_records: DecisionRecordsTable;
  rule_proposals: RuleProposalsTable;
  l1_rule_sets: L1RuleSetsTable;
}
