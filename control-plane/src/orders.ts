import { randomUUID } from "node:crypto";
import type { z } from "zod";
import type { OrderParams, Tier } from "#protocol";
import type { AuditLog } from "./audit.ts";
import type { NewOrder, Store, StoredOrder } from "./store/index.ts";

/**
 * Creates one order for an appliance (the next sequence number, stored unsigned; the poll signs
 * it with that poll's nonce) and records it in the audit log. The admin API, the planner's
 * automatic tiers and operator approvals all create orders here.
 */
export async function createOrder(
  s: { store: Store; audit: AuditLog; now: () => Date },
  actor: string,
  target: { tenantId: string; applianceId: string },
  order: {
    runbookId: string;
    params: z.infer<typeof OrderParams>;
    tier: Tier;
    ttlS: number;
    incidentId?: string;
  },
): Promise<StoredOrder> {
  const stored = await s.store.createOrder(
    target.tenantId,
    target.applianceId,
    newOrder(s.now(), order),
  );
  await auditOrderCreated(s, actor, stored, order.incidentId);
  return stored;
}

/** The order's stored form: a fresh id, issued now, expiring after its TTL. */
export function newOrder(
  now: Date,
  order: { runbookId: string; params: z.infer<typeof OrderParams>; tier: Tier; ttlS: number },
): NewOrder {
  return {
    orderId: randomUUID(),
    runbookId: order.runbookId,
    params: order.params,
    tier: order.tier,
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + order.ttlS * 1000).toISOString(),
  };
}

/** The audit entry of a created order (after it is committed). */
export async function auditOrderCreated(
  s: { audit: AuditLog },
  actor: string,
  stored: StoredOrder,
  incidentId?: string,
): Promise<void> {
  await s.audit.record(actor, "order.created", `${stored.tenantId}/${stored.applianceId}`, {
    order_id: stored.orderId,
    seq: stored.seq,
    runbook_id: stored.runbookId,
    tier: stored.tier,
    ...(incidentId ? { incident_id: incidentId } : {}),
  });
}
