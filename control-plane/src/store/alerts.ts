import type { Kysely } from "kysely";
import type { AlertStore } from "./port.ts";
import type { Database } from "./schema.ts";

/** Alerts raised about an appliance (an evidence fork, clock skew, a failing upload), per tenant. */
export function alertQueries(db: Kysely<Database>): AlertStore {
  return {
    async recordAlert(a) {
      await db
        .insertInto("alerts")
        .values({
          id: crypto.randomUUID(),
          tenant_id: a.tenantId,
          appliance_id: a.applianceId,
          code: a.code,
          detail: a.detail,
          created_at: a.createdAt,
        })
        .execute();
    },

    async listAlerts(tenantId) {
      const rows = await db
        .selectFrom("alerts")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .orderBy("created_at")
        .execute();
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        applianceId: r.appliance_id,
        code: r.code,
        detail: r.detail,
        createdAt: r.created_at,
      }));
    },
  };
}
