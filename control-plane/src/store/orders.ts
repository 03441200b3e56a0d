import type { Kysely, Selectable } from "kysely";
import type { NewOrder, OrderStatus, StoredOrder } from "./port.ts";
import type { Database, OrdersTable } from "./schema.ts";

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
