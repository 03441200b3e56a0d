import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";
import { createChainTable, createIndex, createTable } from "./ddl.ts";
import { plannerMigration } from "./planner/migration.ts";

/**
 * Schema migrations, in code so both adapters run the same steps. Names sort in order; never
 * edit a shipped migration, add the next one. Types are chosen to mean the same on SQLite and
 * PostgreSQL: text for times (RFC 3339 UTC) and JSON, bigint for sequence numbers.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await createTable(db, "tenants", [
        "tenant_id text primary key",
        "ca_cert_pem, ca_key_sealed text not null",
        "retention_days integer not null",
      ]);
      await createTable(
        db,
        "appliances",
        [
          "tenant_id text not null references tenants.tenant_id",
          "appliance_id, status, macs_json, settings_json text not null",
          "token_hash text unique",
          "token_expires_at, token_used_at, evidence_public_key, evidence_key_fingerprint, csr_pem, cert_pem text",
          "cert_fingerprint text unique",
          "hostname, agent_version text",
          "order_seq, evidence_head_seq bigint not null default 0",
          "evidence_head_hash, created_at text not null",
          "enrolled_at, revoked_at, last_seen_at text",
        ],
        (t) => t.addPrimaryKeyConstraint("appliances_pk", ["tenant_id", "appliance_id"]),
      );
      await createTable(db, "appliance_macs", ["mac, tenant_id, appliance_id text not null"], (t) =>
        t.addPrimaryKeyConstraint("appliance_macs_pk", ["mac", "tenant_id", "appliance_id"]),
      );
      await createTable(
        db,
        "orders",
        [
          "order_id text primary key",
          "tenant_id, appliance_id text not null",
          "seq bigint not null",
          "runbook_id, params_json, tier, issued_at, expires_at, status text not null",
          "result_json text",
        ],
        (t) => t.addUniqueConstraint("orders_seq_unique", ["tenant_id", "appliance_id", "seq"]),
      );
      await createChainTable(db, "evidence", [
        "hash, prev_hash, bundle_json, received_at text not null",
      ]);
      await createTable(db, "alerts", [
        "id text primary key",
        "tenant_id, appliance_id, code, detail, created_at text not null",
      ]);
      await createIndex(db, "alerts_tenant", "alerts", ["tenant_id", "created_at"]);
      await createTable(
        db,
        "incidents",
        ["tenant_id, appliance_id, incident_id, status, body_json, received_at text not null"],
        (t) =>
          t.addPrimaryKeyConstraint("incidents_pk", ["tenant_id", "appliance_id", "incident_id"]),
      );
      await createTable(db, "admin_tokens", [
        "token_hash text primary key",
        "label, created_at text not null",
      ]);
      await createTable(db, "operators", [
        "operator_id text primary key",
        "username text not null unique",
        "password_hash text not null",
        "failed_attempts integer not null default 0",
        "locked_until text",
        "created_at text not null",
      ]);
      await createTable(db, "sessions", [
        "id_hash text primary key",
        "operator_id, csrf_hash, expires_at text not null",
      ]);
      await createTable(db, "audit_log", [
        "seq bigint primary key",
        "at, actor, action, target, detail_json, prev_hash, hash text not null",
      ]);
    },
  },
  "0002_planner": plannerMigration,
  "0002_vault": {
    // Signed Merkle checkpoints per appliance and the durable WORM outbox (vault.ts).
    async up(db: Kysely<unknown>) {
      // One checkpoint per size: two instances publishing at once cannot both insert.
      await createTable(
        db,
        "checkpoints",
        [
          "tenant_id, appliance_id text not null",
          "tree_size bigint not null",
          "root_hash, issued_at, checkpoint_json text not null",
        ],
        (t) =>
          t.addPrimaryKeyConstraint("checkpoints_pk", ["tenant_id", "appliance_id", "tree_size"]),
      );
      await createTable(
        db,
        "vault_cursors",
        ["tenant_id, appliance_id text not null", "segmented_seq bigint not null"],
        (t) => t.addPrimaryKeyConstraint("vault_cursors_pk", ["tenant_id", "appliance_id"]),
      );
      await createTable(db, "vault_objects", [
        "object_key text primary key",
        "tenant_id, appliance_id, kind text not null",
        "first_seq, last_seq bigint not null",
        "sha256 text not null",
        "byte_length bigint not null",
        "created_at, status text not null",
        "attempts integer not null default 0",
        "next_attempt_at text not null",
        "last_error, archive, version_id, retain_until, archived_at text",
      ]);
      await createIndex(db, "vault_objects_due", "vault_objects", ["status", "next_attempt_at"]);
      await createIndex(db, "vault_objects_appliance", "vault_objects", [
        "tenant_id",
        "appliance_id",
        "kind",
        "first_seq",
      ]);
    },
  },
  // Compliance packets: one row per tenant and month; the files live in the data dir.
  "0003_packets": {
    async up(db: Kysely<unknown>) {
      await createTable(
        db,
        "packets",
        ["tenant_id, month, generated_at, files_json, counts_json text not null"],
        (t) => t.addPrimaryKeyConstraint("packets_pk", ["tenant_id", "month"]),
      );
    },
  },
  // Leases, so scheduled jobs run once across control-plane instances (leases.ts).
  "0004_scale": {
    async up(db: Kysely<unknown>) {
      await createTable(db, "leases", [
        "name text primary key",
        "holder, expires_at text not null",
        "completed_at text",
      ]);
    },
  },
  // Orders withdrawn by the kill switch or a site's audit-only mode: who, when and why.
  "0005_order_withdrawal": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("orders").addColumn("withdrawal_json", "text").execute();
      // Each poll looks up its appliance's withdrawn orders.
      await createIndex(db, "orders_status", "orders", ["tenant_id", "appliance_id", "status"]);
    },
  },
  // Sign-in throttling per (account, client address), replacing the account lockout
  // (operator/sign-in.ts); the operators table's failed_attempts/locked_until are no longer read.
  "0006_sign_in_throttle": {
    async up(db: Kysely<unknown>) {
      await createTable(
        db,
        "sign_in_failures",
        [
          "subject, address text not null",
          "failures integer not null",
          "last_failure_at text not null",
        ],
        (t) => t.addPrimaryKeyConstraint("sign_in_failures_pk", ["subject", "address"]),
      );
      await createIndex(db, "sign_in_failures_age", "sign_in_failures", ["last_failure_at"]);
    },
  },
  // Model qualification reports: L2 stays off until the configured model's newest one passes.
  "0007_model_qualifications": {
    async up(db: Kysely<unknown>) {
      await createTable(
        db,
        "model_qualifications",
        [
          "model, recorded_at text not null",
          "passed integer not null",
          "report_json, recorded_by text not null",
        ],
        (t) => t.addPrimaryKeyConstraint("model_qualifications_pk", ["model", "recorded_at"]),
      );
    },
  },
  // The appliances' witness cosignatures of checkpoints, one per carrying bundle (cosignatures.ts).
  "0008_cosignatures": {
    async up(db: Kysely<unknown>) {
      await createTable(
        db,
        "cosignatures",
        [
          "tenant_id, appliance_id text not null",
          "evidence_seq, tree_size bigint not null",
          "root_hash, cosignature, received_at text not null",
        ],
        (t) =>
          t.addPrimaryKeyConstraint("cosignatures_pk", [
            "tenant_id",
            "appliance_id",
            "evidence_seq",
          ]),
      );
      await createIndex(db, "cosignatures_checkpoint", "cosignatures", [
        "tenant_id",
        "appliance_id",
        "tree_size",
      ]);
    },
  },
  // Guardrail lock rows (store/planner/decisions.ts): an automatic order's transaction takes its
  // site's and its runbook's row before it counts what the guardrails limit.
  "0009_guardrail_locks": {
    async up(db: Kysely<unknown>) {
      await createTable(db, "guardrail_locks", ["scope, taken_at text not null"], (t) =>
        t.addPrimaryKeyConstraint("guardrail_locks_pk", ["scope"]),
      );
    },
  },
  // Roles and scopes for operators and API tokens (access/roles.ts); tokens gain a name's
  // expiry, last use and revocation; sessions their start and last activity. Rows made before
  // keep what they could do: every operator and token was an admin of every tenant.
  "0014_operator_roles": {
    async up(db: Kysely<unknown>) {
      const grant = [
        ["role", "admin"],
        ["scope_json", '{"tenants":"*"}'],
      ] as const;
      for (const table of ["operators", "admin_tokens"]) {
        for (const [column, value] of grant) {
          await db.schema
            .alterTable(table)
            .addColumn(column, "text", (c) => c.notNull().defaultTo(value))
            .execute();
        }
      }
      for (const column of ["expires_at", "disabled_at"]) {
        await db.schema.alterTable("operators").addColumn(column, "text").execute();
      }
      for (const column of ["created_by", "expires_at", "last_used_at", "revoked_at"]) {
        await db.schema.alterTable("admin_tokens").addColumn(column, "text").execute();
      }
      for (const column of ["created_at", "last_seen_at"]) {
        await db.schema.alterTable("sessions").addColumn(column, "text").execute();
      }
      await createIndex(db, "sessions_operator", "sessions", ["operator_id"]);
    },
  },
  // A qualification report is for one model on one model server: the gate looks a report up by
  // both. Rows written before carry '' and match no configured server (their reports are
  // unsigned and would not verify either), so the model has to be qualified again.
  "0015_qualification_base_url": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("model_qualifications")
        .addColumn("base_url", "text", (c) => c.notNull().defaultTo(""))
        .execute();
      await createIndex(db, "model_qualifications_server", "model_qualifications", [
        "base_url",
        "model",
        "recorded_at",
      ]);
    },
  },
  // Packets become immutable versions: a regeneration adds version N+1 with its reason and the
  // SHA-256 of version N's signed manifest. A packet made before keeps its files where they were
  // (packets/<tenant>/<month>/) as version 1; its manifest hash is read from that file when a
  // version 2 is made.
  "0017_1_packet_versions": {
    async up(db: Kysely<unknown>) {
      await createTable(
        db,
        "packet_versions",
        [
          "tenant_id, month text not null",
          "version integer not null",
          "generated_at, requested_by, files_json, counts_json text not null",
          "reason, manifest_sha256, previous_manifest_sha256 text",
        ],
        (t) => t.addPrimaryKeyConstraint("packet_versions_pk", ["tenant_id", "month", "version"]),
      );
      await sql`insert into packet_versions (tenant_id, month, version, generated_at, requested_by,
        files_json, counts_json) select tenant_id, month, 1, generated_at, 'unrecorded', files_json,
        counts_json from packets`.execute(db);
      await db.schema.dropTable("packets").execute();
    },
  },
  // Packets as jobs off the request path (packet_jobs), and how far each appliance's chain was
  // verified in full by a packet (evidence_verified_heads, a head signed by the control plane),
  // so the next packet verifies only the bundles after it.
  "0017_2_packet_jobs": {
    async up(db: Kysely<unknown>) {
      await createTable(db, "packet_jobs", [
        "job_id text primary key",
        "tenant_id, month, requested_by, status text not null",
        "progress integer not null default 0",
        "reason, error, rerun_of text",
        "version integer",
        "created_at text not null",
        "started_at, finished_at text",
      ]);
      await createIndex(db, "packet_jobs_tenant", "packet_jobs", ["tenant_id", "created_at"]);
      await createIndex(db, "packet_jobs_status", "packet_jobs", ["status", "created_at"]);
      await createTable(
        db,
        "evidence_verified_heads",
        ["tenant_id, appliance_id text not null", "seq bigint not null", "head_json text not null"],
        (t) =>
          t.addPrimaryKeyConstraint("evidence_verified_heads_pk", ["tenant_id", "appliance_id"]),
      );
    },
  },
  // A local account's TOTP secret (sealed like the tenant CA keys), one waiting for its first
  // code while the operator enrols, and the last time step accepted (a code is good once).
  "0018_operator_mfa": {
    async up(db: Kysely<unknown>) {
      for (const column of ["totp_sealed", "totp_pending_sealed"]) {
        await db.schema.alterTable("operators").addColumn(column, "text").execute();
      }
      await db.schema.alterTable("operators").addColumn("totp_last_step", "bigint").execute();
    },
  },
  // Changes that widen automation (promoting a flywheel rule, a site out of audit-only, lifting
  // the kill switch) wait here for a second operator's approval.
  "0019_change_requests": {
    async up(db: Kysely<unknown>) {
      await createTable(db, "change_requests", [
        "request_id text primary key",
        "action text not null",
        "tenant_id text",
        "target, payload_json, reason, requested_by, requested_at, expires_at, status text not null",
        "decided_by, decided_at, note text",
      ]);
      await createIndex(db, "change_requests_status", "change_requests", [
        "status",
        "requested_at",
      ]);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
