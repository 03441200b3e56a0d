import type { Kysely, Selectable } from "kysely";
import { plannerQueries } from "./planner/index.ts";
import type {
  ChangeAction,
  ChangeRequestRecord,
  ChangeRequestStore,
  ChangeStatus,
} from "./port.ts";
import { changedOne, mapRow } from "./rows.ts";
import type { ChangeRequestsTable, Database } from "./schema.ts";

const toRecord = (r: Selectable<ChangeRequestsTable>): ChangeRequestRecord => ({
  requestId: r.request_id,
  action: r.action as ChangeAction,
  tenantId: r.tenant_id,
  target: r.target,
  payloadJson: r.payload_json,
  reason: r.reason,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  expiresAt: r.expires_at,
  status: r.status as ChangeStatus,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  note: r.note,
});

/**
 * Change requests: a change that widens automation waits here until a second operator approves
 * it. Approving is one transaction: the pending → approved compare-and-swap (never by the
 * requester, never after expiry) and the change itself, through the planner's queries on that
 * same transaction. Concurrent approvers serialise on the row (PostgreSQL's row lock, SQLite's
 * single writer): the second finds it approved and changes nothing.
 */
export function changeRequestQueries(db: Kysely<Database>): ChangeRequestStore {
  return {
    async createChangeRequest(r) {
      await db
        .insertInto("change_requests")
        .values({
          request_id: r.requestId,
          action: r.action,
          tenant_id: r.tenantId,
          target: r.target,
          payload_json: r.payloadJson,
          reason: r.reason,
          requested_by: r.requestedBy,
          requested_at: r.requestedAt,
          expires_at: r.expiresAt,
          status: "pending",
          decided_by: null,
          decided_at: null,
          note: null,
        })
        .execute();
    },

    async getChangeRequest(requestId) {
      const row = await db
        .selectFrom("change_requests")
        .selectAll()
        .where("request_id", "=", requestId)
        .executeTakeFirst();
      return mapRow(row, toRecord);
    },

    async listChangeRequests(status, limit) {
      let q = db.selectFrom("change_requests").selectAll();
      if (status) q = q.where("status", "=", status);
      const rows = await q
        .orderBy("requested_at", "desc")
        .orderBy("request_id")
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },

    approveChangeRequest(requestId, by, at, apply) {
      return db.transaction().execute(async (tx) => {
        const row = await tx
          .selectFrom("change_requests")
          .select(["status", "requested_by", "expires_at"])
          .where("request_id", "=", requestId)
          .executeTakeFirst();
        if (row?.status !== "pending") return "not_pending";
        if (row.requested_by === by) return "own_request";
        if (row.expires_at <= at) return "expired";
        const won = await tx
          .updateTable("change_requests")
          .set({ status: "approved", decided_by: by, decided_at: at })
          .where("request_id", "=", requestId)
          .where("status", "=", "pending")
          .where("requested_by", "<>", by)
          .where("expires_at", ">", at)
          .executeTakeFirst();
        if (!changedOne(won)) return "not_pending";
        await apply(plannerQueries(tx));
        return "approved";
      });
    },

    async rejectChangeRequest(requestId, by, at, note) {
      const r = await db
        .updateTable("change_requests")
        .set({ status: "rejected", decided_by: by, decided_at: at, note })
        .where("request_id", "=", requestId)
        .where("status", "=", "pending")
        .executeTakeFirst();
      return changedOne(r);
    },
  };
}
