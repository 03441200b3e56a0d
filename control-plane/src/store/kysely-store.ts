import { type Kysely, Migrator, sql } from "kysely";
import { ControlPlaneError } from "../errors.ts";
import { alertQueries } from "./alerts.ts";
import { applianceQueries } from "./appliances.ts";
import { auditQueries } from "./audit.ts";
import { changeRequestQueries } from "./change-requests.ts";
import { cosignatureQueries } from "./cosignatures.ts";
import { evidenceQueries } from "./evidence.ts";
import { expiryQueries } from "./expiry.ts";
import { incidentQueueQueries } from "./incident-queue.ts";
import { leaseQueries } from "./leases.ts";
import { migrationProvider } from "./migrations.ts";
import { operatorQueries } from "./operators.ts";
import { orderQueries } from "./orders.ts";
import { packetQueries } from "./packets.ts";
import { plannerQueries } from "./planner/index.ts";
import type { Store, StoreLifecycle } from "./port.ts";
import type { Database } from "./schema.ts";
import { tenantQueries } from "./tenants.ts";
import { vaultQueries } from "./vault.ts";

/**
 * The Store on Kysely, composed of one part per domain: the same queries for SQLite and
 * PostgreSQL; the adapters in sqlite/ and postgres/ only build the Kysely instance. A new domain
 * adds its part to the port (port.ts), its file with its contract, and one line here.
 */
export function kyselyStore(db: Kysely<Database>, dialect: "sqlite" | "postgres"): Store {
  return {
    ...lifecycle(db, dialect),
    ...tenantQueries(db),
    ...applianceQueries(db),
    ...orderQueries(db),
    ...evidenceQueries(db),
    ...alertQueries(db),
    ...incidentQueueQueries(db),
    ...operatorQueries(db),
    ...auditQueries(db),
    ...vaultQueries(db),
    ...leaseQueries(db),
    ...expiryQueries(db),
    ...packetQueries(db),
    ...cosignatureQueries(db),
    ...changeRequestQueries(db),
    planner: plannerQueries(db),
  };
}

function lifecycle(db: Kysely<Database>, dialect: "sqlite" | "postgres"): StoreLifecycle {
  return {
    dialect,

    async migrate() {
      // Kysely looks for its migration tables in every schema unless told which one: with two
      // stores in one PostgreSQL database (tests, or a shared server) it would find the other
      // schema's lock table, skip creating its own, then fail to use it. Pin the store's own.
      const schema =
        dialect === "postgres"
          ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]
              ?.schema
          : undefined;
      const { error, results } = await new Migrator({
        db,
        provider: migrationProvider,
        // Parallel lines of work each number their migrations under their own prefix and land in
        // any order, so one may sort before a migration a database already ran (0017_2 after
        // 0018). Each touches only its own tables; the unapplied ones run in name order.
        allowUnorderedMigrations: true,
        ...(schema ? { migrationTableSchema: schema } : {}),
      }).migrateToLatest();
      const failed = results?.find((r) => r.status === "Error");
      if (error || failed) {
        throw new ControlPlaneError(
          "migration_failed",
          `migration ${failed?.migrationName ?? "?"} failed`,
          { cause: error },
        );
      }
    },

    async ping() {
      await db.selectFrom("tenants").select("tenant_id").limit(1).execute();
    },

    async close() {
      await db.destroy();
    },
  };
}
