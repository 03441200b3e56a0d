import type { Kysely, Selectable } from "kysely";
import { HEALING_CONTROL_RUNBOOKS } from "#protocol";
import type { NewOrder, OrderStatus, OrderStore, OrderWithdrawal, StoredOrder } from "./port.ts";
import { changedOne } from "./rows.ts";
import type { Database, OrdersTable } from "./schema.ts";

/**
 * Orders to appliances: numbered per appliance by a counter on the appliance row, delivered in
 * sequence order, finished once with the appliance's reported result, expired when stale.
 */
export function orderQueries(db: Kysely<Database>): OrderStore {
  const ofAppliance = (tenantId: string, applianceId: string) =>
    db
      .updateTable("orders")
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId);

  return {
    createOrder(tenantId, applianceId, o) {
      return db.transaction().execute((tx) => insertOrder(tx, tenantId, applianceId, o));
    },

    async ordersAfter(tenantId, applianceId, afterSeq, limit) {
      const rows = await db
        .selectFrom("orders")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(toOrder);
    },

    async markDelivered(tenantId, applianceId, orderIds) {
      if (orderIds.length === 0) return 0;
      const updated = await ofAppliance(tenantId, applianceId)
        .set({ status: "delivered" })
        .where("order_id", "in", [...orderIds])
        .where("status", "=", "pending")
        .executeTakeFirst();
      return Number(updated.numUpdatedRows);
    },

    async getOrder(tenantId, orderId) {
      const row = await db
        .selectFrom("orders")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("order_id", "=", orderId)
        .executeTakeFirst();
      return row ? toOrder(row) : undefined;
    },

    async setOrderResult(tenantId, applianceId, orderId, status, result) {
      const updated = await ofAppliance(tenantId, applianceId)
        .set({ status, result_json: JSON.stringify(result) })
        .where("order_id", "=", orderId)
        .executeTakeFirst();
      return changedOne(updated);
    },

    async expireOrders(now) {
      const updated = await db
        .updateTable("orders")
        .set({ status: "expired" })
        .where("status", "in", ["pending", "delivered"])
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows);
    },

    async withdrawOrders(scope, w) {
      const note = (previousStatus: OrderWithdrawal["previousStatus"]) =>
        JSON.stringify({ ...w, previousStatus } satisfies OrderWithdrawal);
      // One statement: SET sees each row's old status, so the note records what it was.
      let query = db
        .updateTable("orders")
        .set((eb) => ({
          status: "withdrawn",
          withdrawal_json: eb
            .case()
            .when("status", "=", "pending")
            .then(note("pending"))
            .else(note("delivered"))
            .end(),
        }))
        .where("status", "in", ["pending", "delivered"])
        .where("expires_at", ">", w.at)
        .where("runbook_id", "not in", [...HEALING_CONTROL_RUNBOOKS]);
      if (scope.tenantId !== null) query = query.where("tenant_id", "=", scope.tenantId);
      if (scope.applianceId !== undefined)
        query = query.where("appliance_id", "=", scope.applianceId);
      if (scope.tiers !== undefined) query = query.where("tier", "in", [...scope.tiers]);
      const rows = await query.returningAll().execute();
      return rows.map(toOrder).sort((a, b) => a.seq - b.seq);
    },

    async withdrawnOrders(tenantId, applianceId, maxSeq, now, limit) {
      const rows = await db
        .selectFrom("orders")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("status", "=", "withdrawn")
        .where("result_json", "is", null)
        .where("seq", "<=", maxSeq)
        .where("expires_at", ">", now)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(toOrder);
    },
  };
}

/**
 * Inserts an order as the appliance's next sequence number. Run it inside a transaction (the
 * counter bump and the insert belong together); the planner's decision commit runs it inside
 * its own transaction so the order, the incident's status and the decision record commit as one.
 */
export async function insertOrder(
  tx: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  o: NewOrder,
): Promise<StoredOrder> {
  const row = await tx
    .updateTable("appliances")
    .set((eb) => ({ order_seq: eb("order_seq", "+", 1) }))
    .where("tenant_id", "=", tenantId)
    .where("appliance_id", "=", applianceId)
    .returning("order_seq")
    .executeTakeFirstOrThrow();
  const values = {
    order_id: o.orderId,
    tenant_id: tenantId,
    appliance_id: applianceId,
    seq: Number(row.order_seq),
    runbook_id: o.runbookId,
    params_json: JSON.stringify(o.params),
    tier: o.tier,
    issued_at: o.issuedAt,
    expires_at: o.expiresAt,
    status: "pending",
    result_json: null,
    withdrawal_json: null,
  };
  await tx.insertInto("orders").values(values).execute();
  return toOrder(values);
}

export function toOrder(row: Selectable<OrdersTable>): StoredOrder {
  return {
    orderId: row.order_id,
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    seq: Number(row.seq),
    runbookId: row.runbook_id,
    params: JSON.parse(row.params_json),
    tier: row.tier as StoredOrder["tier"],
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    status: row.status as OrderStatus,
    result: row.result_json === null ? null : JSON.parse(row.result_json),
    withdrawal: row.withdrawal_json ? (JSON.parse(row.withdrawal_json) as OrderWithdrawal) : null,
  };
}
