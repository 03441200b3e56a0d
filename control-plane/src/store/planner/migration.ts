import type { Kysely, Migration } from "kysely";

/**
 * 0002_planner: the incident pipeline's state. New tables only (0001's incidents table keeps
 * the body as received; `incident_state` carries the pipeline status beside it), so the
 * migration is additive on both dialects.
 */
export const plannerMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("site_policies")
      .addColumn("tenant_id", "text", (c) => c.primaryKey())
      .addColumn("policy_json", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addColumn("updated_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("planner_control")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("kill_switch", "integer", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addColumn("updated_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("incident_state")
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("appliance_id", "text", (c) => c.notNull())
      .addColumn("incident_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addColumn("note_json", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("incident_state_pk", ["tenant_id", "appliance_id", "incident_id"])
      .execute();
    await db.schema
      .createIndex("incident_state_status")
      .on("incident_state")
      .columns(["status", "tenant_id"])
      .execute();
    await db.schema
      .createTable("incident_attempts")
      .addColumn("order_id", "text", (c) => c.primaryKey())
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("appliance_id", "text", (c) => c.notNull())
      .addColumn("incident_id", "text", (c) => c.notNull())
      .addColumn("runbook_id", "text", (c) => c.notNull())
      .addColumn("tier", "text", (c) => c.notNull())
      .addColumn("pattern_key", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("finished_at", "text")
      .execute();
    await db.schema
      .createIndex("incident_attempts_tenant")
      .on("incident_attempts")
      .columns(["tenant_id", "created_at"])
      .execute();
    await db.schema
      .createIndex("incident_attempts_runbook")
      .on("incident_attempts")
      .columns(["runbook_id", "created_at"])
      .execute();
    await db.schema
      .createTable("decision_records")
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("appliance_id", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("incident_id", "text", (c) => c.notNull())
      .addColumn("record_json", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("decision_records_pk", ["tenant_id", "appliance_id", "seq"])
      .execute();
    await db.schema
      .createTable("rule_proposals")
      .addColumn("proposal_id", "text", (c) => c.primaryKey())
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("pattern_key", "text", (c) => c.notNull())
      .addColumn("check_id", "text", (c) => c.notNull())
      .addColumn("finding", "text", (c) => c.notNull())
      .addColumn("runbook_id", "text", (c) => c.notNull())
      .addColumn("successes", "integer", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("decided_at", "text")
      .addColumn("decided_by", "text")
      .addColumn("note", "text")
      .addUniqueConstraint("rule_proposals_pattern", ["tenant_id", "pattern_key"])
      .execute();
    await db.schema
      .createTable("l1_rule_sets")
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("version", "bigint", (c) => c.notNull())
      .addColumn("issued_at", "text", (c) => c.notNull())
      .addColumn("rules_json", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("l1_rule_sets_pk", ["tenant_id", "version"])
      .execute();
  },
};
