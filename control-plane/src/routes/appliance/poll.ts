import { MAX_ORDERS_PER_POLL, Order, PollResponse, signDocument } from "#protocol";
import type { Services } from "../../env.ts";
import { applianceRoute } from "./contract.ts";
import { sameIdentity } from "./identity.ts";

/**
 * A poll answers with a signed response echoing the nonce, the highest order sequence number
 * issued to this appliance, and exactly the next consecutive orders after the appliance's
 * `last_order_seq` (at most MAX_ORDERS_PER_POLL). Orders are stored unsigned and signed per
 * poll, each carrying this poll's nonce (TUF 5.4: freshness, freeze and rollback).
 */
export function pollRoute(s: Services) {
  return applianceRoute("poll", {
    summary: "Poll for signed orders, the L1 rule set and the latest checkpoint",
    bodyLabel: "poll request",
    handler: async (c, req) => {
      const appliance = c.get("appliance");
      sameIdentity(appliance, req);
      const { tenantId, applianceId, orderSeq } = appliance;
      const stored =
        req.last_order_seq < orderSeq
          ? await s.store.ordersAfter(
              tenantId,
              applianceId,
              req.last_order_seq,
              MAX_ORDERS_PER_POLL,
            )
          : [];
      // Orders created after the appliance row was read wait for the next poll.
      const due = stored.filter((o) => o.seq <= orderSeq);
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
      const now = s.now();
      await s.store.markDelivered(
        tenantId,
        applianceId,
        due.map((o) => o.orderId),
      );
      // last_seen_at is informative: write it at most every 30 s, not on every poll.
      const lastSeen = appliance.lastSeenAt ? Date.parse(appliance.lastSeenAt) : 0;
      if (now.getTime() - lastSeen > 30_000)
        await s.store.touch(tenantId, applianceId, now.toISOString());
      s.metrics.inc("cp_polls_total", "Poll requests answered.");
      const l1Rules = await s.planner.signedRuleSet(tenantId, applianceId);
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
        },
        s.signer,
      );
      return c.json(response);
    },
  });
}
