import type { Kysely } from "kysely";
import type { TenantStore } from "./port.ts";
import { mapRow } from "./rows.ts";
import type { Database } from "./schema.ts";

/** Tenants (sites): each with its own CA, whose key is stored sealed, and its retention. */
export function tenantQueries(db: Kysely<Database>): TenantStore {
  return {
    async upsertTenant(t) {
      const values = {
        ca_cert_pem: t.caCertPem,
        ca_key_sealed: t.caKeySealed,
        retention_days: t.retentionDays,
      };
      await db
        .insertInto("tenants")
        .values({ tenant_id: t.tenantId, ...values })
        .onConflict((oc) => oc.column("tenant_id").doUpdateSet(values))
        .execute();
    },

    async getTenant(tenantId) {
      const row = await db
        .selectFrom("tenants")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .executeTakeFirst();
      return mapRow(row, (r) => ({
        tenantId: r.tenant_id,
        caCertPem: r.ca_cert_pem,
        caKeySealed: r.ca_key_sealed,
        retentionDays: Number(r.retention_days),
      }));
    },

    async listTenantIds() {
      const rows = await db.selectFrom("tenants").select("tenant_id").execute();
      // Sorted here, not by SQL: collations differ between SQLite and PostgreSQL.
      return rows.map((r) => r.tenant_id).sort();
    },
  };
}
