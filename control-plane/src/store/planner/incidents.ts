import type { Kysely } from "kysely";
import { changedOne, insertUnlessTaken } from "../rows.ts";
import type { Database, IncidentsTable } from "../schema.ts";
import type { IncidentState, IncidentStateStore, IncidentStatus } from "./port.ts";
import type { IncidentStateTable } from "./schema.ts";

/**
 * The incident pipeline's state beside each stored incident: queued → planning → ordered,
 * escalated, resolved, ... Every move is a compare-and-set on the current status, so two workers
 * handling one incident cannot both move it.
 */
export function incidentStateQueries(db: Kysely<Database>): IncidentStateStore {
  const incidents = () =>
    db
      .selectFrom("incident_state as s")
      .innerJoin("incidents as i", (j) =>
        j
          .onRef("i.tenant_id", "=", "s.tenant_id")
          .onRef("i.appliance_id", "=", "s.appliance_id")
          .onRef("i.incident_id", "=", "s.incident_id"),
      )
      .select([
        "s.tenant_id",
        "s.appliance_id",
        "s.incident_id",
        "s.status",
        "s.updated_at",
        "s.note_json",
        "i.body_json",
        "i.received_at",
      ]);

  return {
    async openIncident(tenantId, applianceId, incidentId, at) {
      const key = { tenant_id: tenantId, appliance_id: applianceId, incident_id: incidentId };
      const existing = await db
        .selectFrom("incident_state")
        .select("status")
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("incident_id", "=", incidentId)
        .executeTakeFirst();
      if (existing) return false;
      // A concurrent resend may insert it first: the primary key decides.
      return insertUnlessTaken(() =>
        db
          .insertInto("incident_state")
          .values({ ...key, status: "queued", updated_at: at, note_json: "{}" })
          .execute(),
      );
    },

    async getIncident(tenantId, applianceId, incidentId) {
      const row = await incidents()
        .where("s.tenant_id", "=", tenantId)
        .where("s.appliance_id", "=", applianceId)
        .where("s.incident_id", "=", incidentId)
        .executeTakeFirst();
      return row ? toIncident(row) : undefined;
    },

    async transitionIncident(tenantId, applianceId, incidentId, from, to, at, note) {
      const result = await db
        .updateTable("incident_state")
        .set({ status: to, updated_at: at, note_json: JSON.stringify(note) })
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("incident_id", "=", incidentId)
        .where("status", "in", [...from])
        .executeTakeFirst();
      return changedOne(result);
    },

    async incidentsIn(status, tenantId, limit) {
      let query = incidents().where("s.status", "=", status);
      if (tenantId !== null) query = query.where("s.tenant_id", "=", tenantId);
      const rows = await query.orderBy("i.received_at").limit(limit).execute();
      return rows.map(toIncident);
    },
  };
}

function toIncident(
  row: IncidentStateTable & Pick<IncidentsTable, "body_json" | "received_at">,
): IncidentState {
  return {
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    incidentId: row.incident_id,
    status: row.status as IncidentStatus,
    updatedAt: row.updated_at,
    note: JSON.parse(row.note_json),
    bodyJson: row.body_json,
    receivedAt: row.received_at,
  };
}
