import type { HealingSuspension, SuspensionReason } from "#protocol";
import type { StoredOrder } from "../store/index.ts";
import { killSwitch, type PlannerContext, sitePolicy } from "./context.ts";

/**
 * The kill switch (global) and a site's audit-only mode govern everything the control plane
 * sets in motion, not only the orders it is about to issue:
 *
 * - engaging either withdraws every order in scope that has not run (pending, or delivered and
 *   not reported; never the appliance's own pause/resume control orders): the operator re-issues
 *   what they still want, and while it holds only a person's new orders (L3) are issued;
 * - while either holds, an automatic (L1/L2) order still pending when its appliance polls is
 *   withdrawn at delivery (one committed by a planner that passed its guardrails just before
 *   the switch), and each poll response states the suspension and carries no L1 rule set, so the
 *   appliance applies none of its flywheel rules and runs no automatic order;
 * - lifting both delivers the site's current rule set again: nothing to re-approve.
 */
export async function suspensionOf(
  ctx: PlannerContext,
  tenantId: string,
): Promise<HealingSuspension | undefined> {
  const [ks, policy] = await Promise.all([killSwitch(ctx), sitePolicy(ctx, tenantId)]);
  const reasons: SuspensionReason[] = [];
  if (ks.engaged) reasons.push("kill_switch");
  if (policy.audit_only) reasons.push("audit_only");
  if (reasons.length === 0) return undefined;
  // The stored reason predates any check: what is signed must be well-formed text.
  const detail = ks.engaged ? ks.reason.toWellFormed().slice(0, 300) : "";
  return { reasons, detail };
}

/**
 * Withdraws the orders in scope (store.withdrawOrders, one statement), then for each: an audit
 * entry under `actor`, and, for an incident's order, its attempt finished as withdrawn and the
 * incident sent back through the tiers (where the same kill switch or audit-only decides it:
 * the operator queue, with its decision record).
 */
export async function withdrawOrders(
  ctx: PlannerContext,
  actor: string,
  scope: Parameters<PlannerContext["store"]["withdrawOrders"]>[0],
  reason: SuspensionReason,
): Promise<StoredOrder[]> {
  const at = ctx.now().toISOString();
  const withdrawn = await ctx.store.withdrawOrders(scope, { reason, by: actor, at });
  for (const order of withdrawn) {
    await ctx.audit.record(
      actor,
      "order.withdrawn",
      `${order.tenantId}/${order.applianceId}/order/${order.orderId}`,
      {
        reason,
        seq: order.seq,
        runbook_id: order.runbookId,
        tier: order.tier,
        previous_status: order.withdrawal?.previousStatus ?? null,
      },
    );
    const attempt = await ctx.store.planner.finishAttempt(
      order.tenantId,
      order.orderId,
      "withdrawn",
      at,
    );
    if (!attempt) continue;
    const ids = [attempt.tenantId, attempt.applianceId, attempt.incidentId] as const;
    if (
      await ctx.store.planner.transitionIncident(...ids, ["ordered"], "queued", at, {
        previous_order: attempt.orderId,
        previous_outcome: "withdrawn",
        reason,
      })
    ) {
      ctx.schedule(...ids);
    }
  }
  return withdrawn;
}
