import type { Kysely } from "kysely";
import type { IncidentQueueStore } from "./port.ts";
import type { Database } from "./schema.ts";

/**
 * The durable side of the incident queue: each incident an appliance reports is stored once
 * under its id (per appliance) before it is published for the planner; a resend is recognised.
 */
export function incidentQueueQueries(db: Kysely<Database>): IncidentQueueStore {
  return {
    recordIncident(tenantId, applianceId, incidentId, bodyJson, at) {
      return db.transaction().execute(async (tx) => {
        // Scoped to the appliance: incident ids of other tenants are invisible here.
        const existing = await tx
          .selectFrom("incidents")
          .select("body_json")
          .where("tenant_id", "=", tenantId)
          .where("appliance_id", "=", applianceId)
          .where("incident_id", "=", incidentId)
          .executeTakeFirst();
        if (existing) return existing.body_json === bodyJson ? "duplicate" : "conflict";
        await tx
          .insertInto("incidents")
          .values({
            tenant_id: tenantId,
            appliance_id: applianceId,
            incident_id: incidentId,
            status: "queued",
            body_json: bodyJson,
            received_at: at,
          })
          .execute();
        return "created";
      });
    },

    async listIncidents(tenantId) {
      const rows = await db
        .selectFrom("incidents")
        .select(["incident_id", "appliance_id", "status", "body_json"])
        .where("tenant_id", "=", tenantId)
        .orderBy("received_at")
        .execute();
      return rows.map((r) => ({
        incidentId: r.incident_id,
        applianceId: r.appliance_id,
        status: r.status,
        bodyJson: r.body_json,
      }));
    },
  };
}
