import { Incident, tryParseMessage } from "#protocol";
import type { IncidentState } from "../store/index.ts";
import { escalate, type PlannerContext } from "./context.ts";

const PIPELINE = "control-plane:pipeline";

/**
 * Gives the incident to a human (planning → escalated) with `reason`: a signed decision record,
 * the webhook and a metric. An incident whose text has no canonical form (a lone surrogate
 * stored before the edge refused them) is recorded with U+FFFD in its place, said so in the
 * reason; if even that cannot be recorded, the status still changes and the reason is kept in
 * the incident's note, so nothing stays in `planning`.
 */
export async function abandon(
  ctx: PlannerContext,
  state: IncidentState,
  reason: string,
): Promise<void> {
  ctx.metrics?.inc(
    "cp_planner_planning_abandoned_total",
    "Incidents given to a human because planning did not finish (attempts or deadline).",
  );
  const raw = JSON.parse(state.bodyJson) as unknown;
  const clean = wellFormed(raw);
  const parsed = tryParseMessage(Incident, clean);
  const rewritten = JSON.stringify(clean) !== state.bodyJson;
  const why = `${reason}${rewritten ? " (text with no canonical form recorded as U+FFFD)" : ""}`;
  if (parsed.ok) {
    try {
      await escalate(ctx, parsed.value, [], {
        tier: "L2",
        decided_by: PIPELINE,
        reason: why.slice(0, 500),
        guardrails: [],
      });
      return;
    } catch (error) {
      ctx.logger.log("error", "the escalation of an abandoned incident could not be recorded", {
        incident_id: state.incidentId,
        err: error,
      });
    }
  }
  await ctx.store.planner.transitionIncident(
    state.tenantId,
    state.applianceId,
    state.incidentId,
    ["planning"],
    "escalated",
    ctx.now().toISOString(),
    { reason: why.slice(0, 500), blocked_by: [] },
  );
}

/** Every string of a JSON value with lone surrogates replaced by U+FFFD. */
function wellFormed(value: unknown): unknown {
  if (typeof value === "string") return value.toWellFormed();
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.toWellFormed(), wellFormed(v)]),
    );
  }
  return value;
}
