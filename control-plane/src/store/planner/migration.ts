import type { Kysely, Migration } from "kysely";
import { createChainTable, createIndex, createTable } from "../ddl.ts";

/**
 * 0002_planner: the incident pipeline's state. New tables only (0001's incidents table keeps
 * the body as received; `incident_state` carries the pipeline status beside it), so the
 * migration is additive on both dialects.
 */
export const plannerMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await createTable(db, "site_policies", [
      "tenant_id text primary key",
      "policy_json, updated_at, updated_by text not null",
    ]);
    await createTable(db, "planner_control", [
      "id text primary key",
      "kill_switch integer not null",
      "reason, updated_at, updated_by text not null",
    ]);
    await createTable(
      db,
      "incident_state",
      ["tenant_id, appliance_id, incident_id, status, updated_at, note_json text not null"],
      (t) =>
        t.addPrimaryKeyConstraint("incident_state_pk", [
          "tenant_id",
          "appliance_id",
          "incident_id",
        ]),
    );
    await createIndex(db, "incident_state_status", "incident_state", ["status", "tenant_id"]);
    await createTable(db, "incident_attempts", [
      "order_id text primary key",
      "tenant_id, appliance_id, incident_id, runbook_id, tier, pattern_key, created_at, status text not null",
      "finished_at text",
    ]);
    await createIndex(db, "incident_attempts_tenant", "incident_attempts", [
      "tenant_id",
      "created_at",
    ]);
    await createIndex(db, "incident_attempts_runbook", "incident_attempts", [
      "runbook_id",
      "created_at",
    ]);
    await createChainTable(db, "decision_records", [
      "hash, incident_id, record_json text not null",
    ]);
    await createTable(
      db,
      "rule_proposals",
      [
        "proposal_id text primary key",
        "tenant_id, pattern_key, check_id, finding, runbook_id text not null",
        "successes integer not null",
        "status, created_at text not null",
        "decided_at, decided_by, note text",
      ],
      (t) => t.addUniqueConstraint("rule_proposals_pattern", ["tenant_id", "pattern_key"]),
    );
    await createTable(
      db,
      "l1_rule_sets",
      ["tenant_id text not null", "version bigint not null", "issued_at, rules_json text not null"],
      (t) => t.addPrimaryKeyConstraint("l1_rule_sets_pk", ["tenant_id", "version"]),
    );
  },
};
