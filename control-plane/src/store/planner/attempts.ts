import type { Kysely, Selectable } from "kysely";
import { changedOne } from "../rows.ts";
import type { Database } from "../schema.ts";
import type { AttemptStatus, AttemptStore, IncidentAttempt } from "./port.ts";
import type { IncidentAttemptsTable } from "./schema.ts";

/**
 * The orders issued for incidents, each with its verified outcome once the appliance reported
 * it: what the guardrails count (per appliance, runbook, tier and time) and what the flywheel
 * learns from (outcomes per pattern).
 */
export function attemptQueries(db: Kysely<Database>): AttemptStore {
  const attempts = () => db.selectFrom("incident_attempts").selectAll();

  return {
    async recordAttempt(a) {
      await db.insertInto("incident_attempts").values(attemptValues(a)).execute();
    },

    async finishAttempt(tenantId, orderId, status, at) {
      const result = await db
        .updateTable("incident_attempts")
        .set({ status, finished_at: at })
        .where("tenant_id", "=", tenantId)
        .where("order_id", "=", orderId)
        .where("status", "=", "pending")
        .executeTakeFirst();
      if (!changedOne(result)) return undefined;
      const row = await attempts()
        .where("tenant_id", "=", tenantId)
        .where("order_id", "=", orderId)
        .executeTakeFirstOrThrow();
      return toAttempt(row);
    },

    async countAttempts(f) {
      let query = db
        .selectFrom("incident_attempts")
        .select((eb) => eb.fn.countAll<number>().as("n"));
      if (f.tenantId !== undefined) query = query.where("tenant_id", "=", f.tenantId);
      if (f.applianceId !== undefined) query = query.where("appliance_id", "=", f.applianceId);
      if (f.incidentId !== undefined) query = query.where("incident_id", "=", f.incidentId);
      if (f.runbookId !== undefined) query = query.where("runbook_id", "=", f.runbookId);
      if (f.since !== undefined) query = query.where("created_at", ">=", f.since);
      if (f.tiers !== undefined) query = query.where("tier", "in", [...f.tiers]);
      if (f.excludeStatuses !== undefined && f.excludeStatuses.length > 0)
        query = query.where("status", "not in", [...f.excludeStatuses]);
      const row = await query.executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async staleAttempts(createdBefore, limit) {
      const rows = await attempts()
        .where("status", "=", "pending")
        .where("created_at", "<", createdBefore)
        .orderBy("created_at")
        .limit(limit)
        .execute();
      return rows.map(toAttempt);
    },

    async attemptsFor(tenantId, applianceId, incidentId) {
      const rows = await attempts()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("incident_id", "=", incidentId)
        .orderBy("created_at")
        .execute();
      return rows.map(toAttempt);
    },

    async countAppliancesForRunbook(runbookId, since, tiers) {
      const rows = await db
        .selectFrom("incident_attempts")
        .select(["tenant_id", "appliance_id"])
        .distinct()
        .where("runbook_id", "=", runbookId)
        .where("created_at", ">=", since)
        .where("tier", "in", [...tiers])
        .where("status", "!=", "withdrawn")
        .execute();
      return rows.length;
    },

    async attemptOutcomes(tenantId, patternKey, tier) {
      const rows = await db
        .selectFrom("incident_attempts")
        .select((eb) => ["runbook_id", "status", eb.fn.countAll<number>().as("n")])
        .where("tenant_id", "=", tenantId)
        .where("pattern_key", "=", patternKey)
        .where("tier", "=", tier)
        .groupBy(["runbook_id", "status"])
        .execute();
      return rows.map((r) => ({
        runbookId: r.runbook_id,
        status: r.status as AttemptStatus,
        count: Number(r.n),
      }));
    },
  };
}

/** The row of a new attempt (pending); the decision commit inserts it beside its order. */
export function attemptValues(a: Omit<IncidentAttempt, "status" | "finishedAt">) {
  return {
    order_id: a.orderId,
    tenant_id: a.tenantId,
    appliance_id: a.applianceId,
    incident_id: a.incidentId,
    runbook_id: a.runbookId,
    tier: a.tier,
    pattern_key: a.patternKey,
    created_at: a.createdAt,
    status: "pending",
    finished_at: null,
  };
}

function toAttempt(row: Selectable<IncidentAttemptsTable>): IncidentAttempt {
  return {
    orderId: row.order_id,
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    incidentId: row.incident_id,
    runbookId: row.runbook_id,
    tier: row.tier as IncidentAttempt["tier"],
    patternKey: row.pattern_key,
    createdAt: row.created_at,
    status: row.status as AttemptStatus,
    finishedAt: row.finished_at,
  };
}
