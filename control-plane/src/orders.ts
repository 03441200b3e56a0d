import { randomUUID } from "node:crypto";
import type { z } from "zod";
import type { OrderParams, Tier } from "#protocol";
import type { AuditLog } from "./audit.ts";
import type { Store, StoredOrder } from "./store/index.ts";

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
  const now = s.now();
  const stored = await s.store.createOrder(target.tenantId, target.applianceId, {
    orderId: randomUUID(),
    runbookId: order.runbookId,
    params: order.params,
    tier: order.tier,
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + order.ttlS * 1000).toISOString(),
  });
  await s.audit.record(actor, "order.created", `${target.tenantId}/${target.applianceId}`, {
    order_id: stored.orderId,
    seq: stored.seq,
    runbook_id: stored.runbookId,
    tier: stored.tier,
    ...(order.incidentId ? { incident_id: order.incidentId } : {}),
  });
  return stored;
}
