import type { Kysely, Migration, MigrationProvider } from "kysely";
import { plannerMigration } from "./planner/migration.ts";

/**
 * Schema migrations, in code so both adapters run the same steps. Names sort in order; never
 * edit a shipped migration, add the next one. Types are chosen to mean the same on SQLite and
 * PostgreSQL: text for times (RFC 3339 UTC) and JSON, bigint for sequence numbers.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("tenants")
        .addColumn("tenant_id", "text", (c) => c.primaryKey())
        .addColumn("ca_cert_pem", "text", (c) => c.notNull())
        .addColumn("ca_key_sealed", "text", (c) => c.notNull())
        .addColumn("retention_days", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("appliances")
        .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.tenant_id"))
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("macs_json", "text", (c) => c.notNull())
        .addColumn("settings_json", "text", (c) => c.notNull())
        .addColumn("token_hash", "text", (c) => c.unique())
        .addColumn("token_expires_at", "text")
        .addColumn("token_used_at", "text")
        .addColumn("evidence_public_key", "text")
        .addColumn("evidence_key_fingerprint", "text")
        .addColumn("csr_pem", "text")
        .addColumn("cert_pem", "text")
        .addColumn("cert_fingerprint", "text", (c) => c.unique())
        .addColumn("hostname", "text")
        .addColumn("agent_version", "text")
        .addColumn("order_seq", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("evidence_head_seq", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("evidence_head_hash", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("enrolled_at", "text")
        .addColumn("revoked_at", "text")
        .addColumn("last_seen_at", "text")
        .addPrimaryKeyConstraint("appliances_pk", ["tenant_id", "appliance_id"])
        .execute();
      await db.schema
        .createTable("appliance_macs")
        .addColumn("mac", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("appliance_macs_pk", ["mac", "tenant_id", "appliance_id"])
        .execute();
      await db.schema
        .createTable("orders")
        .addColumn("order_id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("runbook_id", "text", (c) => c.notNull())
        .addColumn("params_json", "text", (c) => c.notNull())
        .addColumn("tier", "text", (c) => c.notNull())
        .addColumn("issued_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("result_json", "text")
        .addUniqueConstraint("orders_seq_unique", ["tenant_id", "appliance_id", "seq"])
        .execute();
      await db.schema
        .createTable("evidence")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("bundle_json", "text", (c) => c.notNull())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("evidence_pk", ["tenant_id", "appliance_id", "seq"])
        .execute();
      await db.schema
        .createTable("alerts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("code", "text", (c) => c.notNull())
        .addColumn("detail", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("alerts_tenant")
        .on("alerts")
        .columns(["tenant_id", "created_at"])
        .execute();
      await db.schema
        .createTable("incidents")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("incident_id", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("body_json", "text", (c) => c.notNull())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("incidents_pk", ["tenant_id", "appliance_id", "incident_id"])
        .execute();
      await db.schema
        .createTable("admin_tokens")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("label", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("operators")
        .addColumn("operator_id", "text", (c) => c.primaryKey())
        .addColumn("username", "text", (c) => c.notNull().unique())
        .addColumn("password_hash", "text", (c) => c.notNull())
        .addColumn("failed_attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("locked_until", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("sessions")
        .addColumn("id_hash", "text", (c) => c.primaryKey())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("csrf_hash", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("audit_log")
        .addColumn("seq", "bigint", (c) => c.primaryKey())
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("detail_json", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0002_planner": plannerMigration,
  "0002_vault": {
    // Signed Merkle checkpoints per appliance and the durable WORM outbox (vault.ts).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("checkpoints")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("tree_size", "bigint", (c) => c.notNull())
        .addColumn("root_hash", "text", (c) => c.notNull())
        .addColumn("issued_at", "text", (c) => c.notNull())
        .addColumn("checkpoint_json", "text", (c) => c.notNull())
        // One checkpoint per size: two instances publishing at once cannot both insert.
        .addPrimaryKeyConstraint("checkpoints_pk", ["tenant_id", "appliance_id", "tree_size"])
        .execute();
      await db.schema
        .createTable("vault_cursors")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("segmented_seq", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("vault_cursors_pk", ["tenant_id", "appliance_id"])
        .execute();
      await db.schema
        .createTable("vault_objects")
        .addColumn("object_key", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("appliance_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("first_seq", "bigint", (c) => c.notNull())
        .addColumn("last_seq", "bigint", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("byte_length", "bigint", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "text", (c) => c.notNull())
        .addColumn("last_error", "text")
        .addColumn("archive", "text")
        .addColumn("version_id", "text")
        .addColumn("retain_until", "text")
        .addColumn("archived_at", "text")
        .execute();
      await db.schema
        .createIndex("vault_objects_due")
        .on("vault_objects")
        .columns(["status", "next_attempt_at"])
        .execute();
      await db.schema
        .createIndex("vault_objects_appliance")
        .on("vault_objects")
        .columns(["tenant_id", "appliance_id", "kind", "first_seq"])
        .execute();
    },
  },
  // Compliance packets: one row per tenant and month; the files live in the data dir.
  "0003_packets": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("packets")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("month", "text", (c) => c.notNull())
        .addColumn("generated_at", "text", (c) => c.notNull())
        .addColumn("files_json", "text", (c) => c.notNull())
        .addColumn("counts_json", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("packets_pk", ["tenant_id", "month"])
        .execute();
    },
  },
  // Leases, so scheduled jobs run once across control-plane instances (leases.ts).
  "0004_scale": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("completed_at", "text")
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
