import {
  MAX_ORDERS_PER_POLL,
  MAX_WITHDRAWN_PER_POLL,
  Order,
  PollResponse,
  signDocument,
  type WithdrawnOrder,
} from "#protocol";
import type { Services } from "../../env.ts";
import { applianceRoute } from "./contract.ts";
import { sameIdentity } from "./identity.ts";

/**
 * A poll answers with a signed response echoing the nonce, the highest order sequence number
 * issued to this appliance, and exactly the next consecutive orders after the appliance's
 * `last_order_seq` (at most MAX_ORDERS_PER_POLL). Orders are stored unsigned and signed per
 * poll, each carrying this poll's nonce (TUF 5.4: freshness, freeze and rollback).
 *
 * While the kill switch or the site's audit-only mode holds (planner/suspension.ts), the response
 * says so in `suspended`, carries no L1 rule set, and withdraws at delivery any automatic order
 * still pending. A withdrawn order is still delivered in sequence (the appliance must see every
 * number, or the response would read as withholding orders) and named in `withdrawn_orders`,
 * as are withdrawn orders it received earlier and has not reported on.
 */
export function pollRoute(s: Services) {
  return applianceRoute("poll", {
    summary: "Poll for signed orders, the L1 rule set and the latest checkpoint",
    bodyLabel: "poll request",
    handler: async (c, req) => {
      const appliance = c.get("appliance");
      sameIdentity(appliance, req);
      const { tenantId, applianceId, orderSeq } = appliance;
      const suspended = await s.planner.suspension(tenantId);
      const pageOfOrders = async () =>
        req.last_order_seq < orderSeq
          ? (
              await s.store.ordersAfter(
                tenantId,
                applianceId,
                req.last_order_seq,
                MAX_ORDERS_PER_POLL,
              )
            ).filter((o) => o.seq <= orderSeq) // created after the row was read: next poll
          : [];
      let due = await pageOfOrders();
      const automaticPending = due.some((o) => o.status === "pending" && o.tier !== "L3");
      if (suspended && automaticPending) {
        await s.planner.withdrawAutomatic(
          tenantId,
          applianceId,
          suspended.reasons[0] ?? "kill_switch",
        );
        due = await pageOfOrders();
      }
      const now = s.now();
      // Delivered first, then signed: an order withdrawn after the page was read stays
      // withdrawn (markDelivered moves only pending ones), and the page is read again so this
      // response names it withdrawn instead of handing it over as runnable.
      const pending = due.filter((o) => o.status === "pending").length;
      const moved = await s.store.markDelivered(
        tenantId,
        applianceId,
        due.map((o) => o.orderId),
      );
      if (moved < pending) due = await pageOfOrders();
      const orders = due.map((o) =>
        signDocument<Order>(
          Order,
          {
            v: 1,
            type: "order",
            order_id: o.orderId,
            tenant_id: tenantId,
            appliance_id: applianceId,
            seq: o.seq,
            nonce: req.nonce,
            runbook_id: o.runbookId,
            params: o.params,
            tier: o.tier,
            issued_at: o.issuedAt,
            expires_at: o.expiresAt,
          },
          s.signer,
        ),
      );
      // last_seen_at is informative: write it at most every 30 s, not on every poll.
      const lastSeen = appliance.lastSeenAt ? Date.parse(appliance.lastSeenAt) : 0;
      if (now.getTime() - lastSeen > 30_000)
        await s.store.touch(tenantId, applianceId, now.toISOString());
      s.metrics.inc("cp_polls_total", "Poll requests answered.");
      const l1Rules = suspended ? undefined : await s.planner.signedRuleSet(tenantId, applianceId);
      const withdrawn = [
        ...(await s.store.withdrawnOrders(
          tenantId,
          applianceId,
          req.last_order_seq,
          now.toISOString(),
          MAX_WITHDRAWN_PER_POLL - MAX_ORDERS_PER_POLL,
        )),
        ...due.filter((o) => o.status === "withdrawn"),
      ].flatMap((o): WithdrawnOrder[] =>
        o.withdrawal
          ? [
              {
                order_id: o.orderId,
                seq: o.seq,
                reason: o.withdrawal.reason,
                withdrawn_at: o.withdrawal.at,
              },
            ]
          : [],
      );
      // The latest signed checkpoint with a consistency proof from the appliance's last one.
      const checkpoint = await s.vault?.deliveryFor(tenantId, applianceId, req.checkpoint_size);
      const response = signDocument<PollResponse>(
        PollResponse,
        {
          v: 1,
          type: "poll_response",
          tenant_id: tenantId,
          appliance_id: applianceId,
          nonce: req.nonce,
          order_seq: orderSeq,
          orders,
          issued_at: now.toISOString(),
          ...(l1Rules ? { l1_rules: l1Rules } : {}),
          ...(checkpoint ? { checkpoint } : {}),
          ...(suspended ? { suspended } : {}),
          ...(withdrawn.length > 0 ? { withdrawn_orders: withdrawn } : {}),
        },
        s.signer,
      );
      return c.json(response);
    },
  });
}
