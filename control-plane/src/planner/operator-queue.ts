import type { z } from "zod";
import { runbookParamsSchema } from "#catalog";
import { Incident, type OrderParams, tryParseMessage } from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import { auditOrderCreated, newOrder } from "../orders.ts";
import type { StoredOrder } from "../store/index.ts";
import { deriveParams, matchingRunbooks, patternKey, triggeringFinding } from "./candidates.ts";
import type { PlannerContext } from "./context.ts";

/**
 * L3: what an operator does with an escalated incident. Approve a runbook (it becomes a signed
 * order, parameters from the incident or given explicitly, always checked against the runbook's
 * schema), reject, or resolve by hand with a note. Each is a signed decision record and an audit
 * entry under the operator's name.
 */
async function escalated(
  ctx: PlannerContext,
  tenantId: string,
  applianceId: string,
  incidentId: string,
) {
  const state = await ctx.store.planner.getIncident(tenantId, applianceId, incidentId);
  if (!state) throw new ControlPlaneError("not_found", "no such incident");
  if (state.status !== "escalated") {
    throw new ControlPlaneError("conflict", `the incident is ${state.status}, not escalated`);
  }
  const parsed = tryParseMessage(Incident, JSON.parse(state.bodyJson));
  if (!parsed.ok) throw new ControlPlaneError("conflict", "the stored incident does not parse");
  return { state, incident: parsed.value };
}

export async function approveEscalation(
  ctx: PlannerContext,
  actor: string,
  ids: { tenantId: string; applianceId: string; incidentId: string },
  runbookId: string,
  explicitParams: z.infer<typeof OrderParams> | undefined,
  overrideReason?: string,
): Promise<StoredOrder> {
  const { state, incident } = await escalated(ctx, ids.tenantId, ids.applianceId, ids.incidentId);
  const catalog = ctx.catalog;
  const runbook = catalog?.runbooks.find((r) => r.id === runbookId);
  if (!catalog || !runbook)
    throw new ControlPlaneError("invalid_request", `${runbookId} is not in the catalog`);
  if (!runbook.tiers.includes("L3")) {
    throw new ControlPlaneError(
      "invalid_request",
      `${runbookId} may not be ordered by a human (tiers ${runbook.tiers.join(", ")})`,
    );
  }
  // Only a runbook whose triggers match the incident, unless the operator overrides that with a
  // reason, which the signed decision record keeps.
  const candidates = matchingRunbooks(catalog, incident, "L3").map((r) => r.id);
  const override = overrideReason?.trim();
  if (!candidates.includes(runbookId) && !override) {
    throw new ControlPlaneError(
      "invalid_request",
      `${runbookId} is not a candidate for this incident (candidates: ${candidates.join(", ") || "none"}); to order it anyway give override_reason`,
    );
  }
  let params: z.infer<typeof OrderParams>;
  if (explicitParams === undefined) {
    const derived = deriveParams(catalog, runbook, incident);
    if (!derived.ok) {
      throw new ControlPlaneError(
        "invalid_request",
        `params from the incident: ${derived.problem}; give params explicitly`,
      );
    }
    params = derived.params;
  } else {
    const checked = runbookParamsSchema(runbook, catalog).safeParse(explicitParams);
    if (!checked.success) {
      throw new ControlPlaneError(
        "invalid_request",
        `params: ${checked.error.issues[0]?.message ?? "invalid"}`,
      );
    }
    params = checked.data as z.infer<typeof OrderParams>;
  }
  // One transaction: the claim (escalated → ordered, so two operators cannot both approve),
  // the order with its attempt row and the decision record.
  const order = newOrder(ctx.now(), {
    runbookId,
    params,
    tier: "L3",
    ttlS: ctx.settings.orderTtlS,
  });
  const overriding = !candidates.includes(runbookId) && override;
  const committed = await ctx.decisions.commit(
    incident,
    candidates,
    {
      tier: "L3",
      decided_by: actor,
      outcome: "order_issued",
      runbook_id: runbookId,
      order_id: order.orderId,
      reason: overriding
        ? "approved by an operator, overriding the candidates (reason in note)"
        : "approved by an operator",
      guardrails: [],
      ...(overriding ? { note: overriding } : {}),
    },
    {
      from: ["escalated"],
      to: "ordered",
      note: {
        approved_by: actor,
        runbook_id: runbookId,
        ...(overriding ? { override_reason: overriding } : {}),
      },
      order: {
        order,
        patternKey: patternKey(incident.check_id, triggeringFinding(runbook, incident)?.code ?? ""),
      },
    },
  );
  if (!committed?.order) {
    throw new ControlPlaneError("conflict", "the incident was decided concurrently");
  }
  await auditOrderCreated(ctx, actor, committed.order, state.incidentId);
  return committed.order;
}

export async function closeEscalation(
  ctx: PlannerContext,
  actor: string,
  ids: { tenantId: string; applianceId: string; incidentId: string },
  outcome: "rejected" | "resolved_manually",
  note: string,
): Promise<void> {
  const { incident } = await escalated(ctx, ids.tenantId, ids.applianceId, ids.incidentId);
  const committed = await ctx.decisions.commit(
    incident,
    [],
    {
      tier: "L3",
      decided_by: actor,
      outcome,
      reason:
        outcome === "rejected" ? "rejected by an operator" : "resolved by hand by an operator",
      guardrails: [],
      note,
    },
    { from: ["escalated"], to: outcome, note: { by: actor, note } },
  );
  if (!committed) {
    throw new ControlPlaneError("conflict", "the incident was decided concurrently");
  }
}
