import type { Acknowledgement, OrderResult } from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { OrderStatus } from "../../store/index.ts";
import { applianceRoute } from "./contract.ts";
import { sameIdentity } from "./identity.ts";

const STATUS: Record<OrderResult["outcome"], OrderStatus> = {
  succeeded: "succeeded",
  failed: "failed",
  rolled_back: "failed",
  rejected: "rejected",
  expired: "expired",
  deferred: "delivered",
  withdrawn: "withdrawn",
};

const ack = (ref: string): Acknowledgement => ({ v: 1, type: "ack", ref });

/** Order results drive the order lifecycle; incidents are stored and queued for the planner. */
export function reportRoutes(s: Services) {
  const orderResult = applianceRoute("orderResult", {
    summary: "Report an order's outcome",
    bodyLabel: "order result",
    handler: async (c, result) => {
      const appliance = c.get("appliance");
      sameIdentity(appliance, result);
      const order = await s.store.getOrder(appliance.tenantId, result.order_id);
      if (!order || order.applianceId !== appliance.applianceId || order.seq !== result.order_seq) {
        throw new ControlPlaneError("not_found", "no such order for this appliance");
      }
      // Only the control plane withdraws: an appliance cannot declare an order withdrawn. A
      // real outcome for a withdrawn order (it ran before the appliance learned) is the truth.
      if (result.outcome === "withdrawn" && order.status !== "withdrawn") {
        throw new ControlPlaneError("conflict", "this order was not withdrawn");
      }
      await s.store.setOrderResult(
        appliance.tenantId,
        appliance.applianceId,
        result.order_id,
        STATUS[result.outcome],
        result,
      );
      // The flywheel: an incident's order gets its outcome once the evidence backs it.
      await s.planner.onOrderResult(result);
      return c.json(ack(result.order_id));
    },
  });

  const incident = applianceRoute("incident", {
    summary: "Report an incident the agent could not heal locally",
    bodyLabel: "incident",
    handler: async (c, incident) => {
      const appliance = c.get("appliance");
      sameIdentity(appliance, incident);
      const outcome = await s.store.recordIncident(
        appliance.tenantId,
        appliance.applianceId,
        incident.incident_id,
        JSON.stringify(incident),
        s.now().toISOString(),
      );
      if (outcome === "conflict") {
        throw new ControlPlaneError(
          "conflict",
          "this incident id was already used for another incident",
        );
      }
      if (outcome === "created") {
        s.metrics.inc("cp_incidents_total", "Incidents received and queued.");
        // Planned in the background: the appliance never waits on a model.
        await s.planner.submit({
          tenantId: appliance.tenantId,
          applianceId: appliance.applianceId,
          incidentId: incident.incident_id,
        });
      }
      return c.json(ack(incident.incident_id));
    },
  });
  return [orderResult, incident];
}
