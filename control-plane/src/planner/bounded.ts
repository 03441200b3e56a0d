import type { IncidentState } from "../store/index.ts";
import { abandon } from "./abandon.ts";
import type { PlannerContext } from "./context.ts";
import { planIncident } from "./pipeline.ts";

/**
 * Planning that always ends: whatever throws while an incident is planned (a model answer the
 * client did not expect, a record that cannot be signed, a store error) is caught; the incident
 * goes back to the queue a bounded number of times within a deadline, then to a human (L3) with
 * the reason, a webhook and a metric. So no incident loops between `queued` and `planning`
 * calling the model forever.
 */
export type Ids = { tenantId: string; applianceId: string; incidentId: string };

/** What the incident's note carries between planning rounds. */
interface PlanningRound {
  /** Failed planning attempts so far in this round. */
  readonly failures: number;
  /** When this round of planning began (the incident was queued). */
  readonly since: string;
}

function roundOf(state: IncidentState): PlanningRound {
  const failures = state.note.planning_failures;
  const since = state.note.planning_since;
  return {
    failures: typeof failures === "number" && Number.isInteger(failures) ? failures : 0,
    since: typeof since === "string" && !Number.isNaN(Date.parse(since)) ? since : state.updatedAt,
  };
}

/**
 * Claims a queued incident (queued → planning) and plans it. A failure is counted; below the
 * bound the incident is queued again (and `rethrow` hands the error to a queue worker), at the
 * bound or past the deadline it is escalated. False when the incident was not claimed.
 */
export async function planBounded(
  ctx: PlannerContext,
  ids: Ids,
  rethrow: boolean,
): Promise<boolean> {
  const store = ctx.store.planner;
  const before = await store.getIncident(ids.tenantId, ids.applianceId, ids.incidentId);
  if (before?.status !== "queued") return false;
  const round = roundOf(before);
  const note = { planning_failures: round.failures, planning_since: round.since };
  const at = ctx.now().toISOString();
  const claimed = await store.transitionIncident(
    ids.tenantId,
    ids.applianceId,
    ids.incidentId,
    ["queued"],
    "planning",
    at,
    note,
  );
  if (!claimed) return false; // another worker has it, or it is no longer queued
  const state: IncidentState = { ...before, status: "planning", updatedAt: at, note };
  const deadlineMs = Date.parse(round.since) + ctx.settings.planningDeadlineS * 1000;
  if (ctx.now().getTime() > deadlineMs) {
    await abandon(ctx, state, `not decided within ${ctx.settings.planningDeadlineS} s`);
    return true;
  }
  try {
    await planIncident(ctx, state);
  } catch (error) {
    const failures = round.failures + 1;
    const problem = describe(error);
    ctx.logger.log("error", "planning failed", {
      incident_id: ids.incidentId,
      failures,
      err: error,
    });
    ctx.metrics?.inc("cp_planner_planning_failures_total", "Planning attempts that threw.");
    if (failures >= ctx.settings.maxPlanningAttempts) {
      await abandon(ctx, state, `planning failed ${failures} time(s); last: ${problem}`);
      return true;
    }
    await store.transitionIncident(
      ids.tenantId,
      ids.applianceId,
      ids.incidentId,
      ["planning"],
      "queued",
      ctx.now().toISOString(),
      {
        reason: `planning failed: ${problem}`,
        planning_failures: failures,
        planning_since: round.since,
      },
    );
    if (rethrow) throw error;
  }
  return true;
}

/** The error's message, bounded and well formed (it goes into a signed record). */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.toWellFormed().replace(/\s+/g, " ").slice(0, 200).toWellFormed();
}

/**
 * Incidents waiting in `queued` or `planning` for longer than the bound (all tenants, or one):
 * shown on the dashboard, counted, and announced once each by the sweep.
 */
export async function stalledIncidents(
  ctx: Pick<PlannerContext, "store" | "now" | "settings">,
  tenantId: string | null,
): Promise<IncidentState[]> {
  const cutoff = ctx.now().getTime() - ctx.settings.stalledAfterS * 1000;
  const waiting = [
    ...(await ctx.store.planner.incidentsIn("queued", tenantId, 500)),
    ...(await ctx.store.planner.incidentsIn("planning", tenantId, 500)),
  ];
  return waiting.filter((s) => Date.parse(roundOf(s).since) < cutoff);
}

/** Announces newly stalled incidents (webhook, metric); `announced` remembers which were. */
export async function announceStalled(
  ctx: PlannerContext,
  announced: Set<string>,
): Promise<number> {
  const stalled = await stalledIncidents(ctx, null);
  const keys = new Set(stalled.map((s) => `${s.tenantId}/${s.applianceId}/${s.incidentId}`));
  for (const k of announced) if (!keys.has(k)) announced.delete(k);
  for (const s of stalled) {
    const k = `${s.tenantId}/${s.applianceId}/${s.incidentId}`;
    if (announced.has(k)) continue;
    announced.add(k);
    ctx.metrics?.inc(
      "cp_planner_incidents_stalled_total",
      `Incidents found waiting in queued or planning past the bound.`,
    );
    ctx.logger.log("warn", "an incident is waiting past the bound", {
      incident_id: s.incidentId,
      status: s.status,
    });
    const webhook = ctx.webhook;
    if (webhook) {
      ctx.track(
        webhook.send({
          type: "incident.stalled",
          tenant_id: s.tenantId,
          appliance_id: s.applianceId,
          incident_id: s.incidentId,
          status: s.status,
          waiting_since: roundOf(s).since,
          at: ctx.now().toISOString(),
        }),
      );
    }
  }
  return stalled.length;
}
