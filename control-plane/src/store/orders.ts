import type { Kysely, Selectable } from "kysely";
import type { NewOrder, OrderStatus, OrderStore, StoredOrder } from "./port.ts";
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
      if (orderIds.length === 0) return;
      await ofAppliance(tenantId, applianceId)
        .set({ status: "delivered" })
        .where("order_id", "in", [...orderIds])
        .where("status", "=", "pending")
        .execute();
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
  };
}
