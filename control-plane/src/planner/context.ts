import type { Catalog } from "#catalog";
import type { GuardrailResult, Incident, Signer } from "#protocol";
import type { AuditLog } from "../audit.ts";
import { DEFAULT_QUALIFICATION_THRESHOLDS, type QualificationThresholds } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { IncidentState, Store } from "../store/index.ts";
import type { DecisionFields, DecisionRecorder } from "./decisions.ts";
import type { LlmPlanner } from "./llm.ts";
import { DEFAULT_SITE_POLICY, SitePolicy } from "./policy.ts";
import type { Webhook } from "./webhook.ts";

/** Global planner settings (control-plane config `planner`). */
export interface PlannerSettings {
  /** Most distinct appliances one runbook may be ordered on per hour, across all sites. */
  readonly blastRadiusPerHour: number;
  /** Successful L2 resolutions (and no failure) before an L1 rule is proposed. */
  readonly flywheelMinSuccesses: number;
  /** Validity of orders the planner and operators create. */
  readonly orderTtlS: number;
  /** Set in the config file: automatic orders stay halted whatever the API says. */
  readonly killSwitchForced: boolean;
  /** Planning attempts that may throw before the incident goes to a human. */
  readonly maxPlanningAttempts: number;
  /** Seconds an incident may wait for a decision (queued or planning) before it goes to a human. */
  readonly planningDeadlineS: number;
  /** Seconds in queued or planning after which an incident is reported as stalled. */
  readonly stalledAfterS: number;
  /**
   * L2 orders nothing until the newest signed qualification report for the configured model
   * server and model meets these thresholds (qualify.ts). Always on: there is no setting that
   * lets an unqualified model order.
   */
  readonly qualification: QualificationThresholds;
}

export const DEFAULT_PLANNER_SETTINGS: PlannerSettings = {
  blastRadiusPerHour: 20,
  flywheelMinSuccesses: 5,
  orderTtlS: 3600,
  killSwitchForced: false,
  maxPlanningAttempts: 3,
  planningDeadlineS: 900,
  stalledAfterS: 300,
  qualification: DEFAULT_QUALIFICATION_THRESHOLDS,
};

export interface PlannerContext {
  readonly store: Store;
  readonly signer: Signer;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly metrics?: Metrics;
  /** Absent: nothing can be matched, every incident goes to a human. */
  readonly catalog: Catalog | undefined;
  readonly llm: LlmPlanner | undefined;
  readonly webhook: Webhook | undefined;
  readonly settings: PlannerSettings;
  readonly decisions: DecisionRecorder;
  /** Tracks background work (webhooks, re-planning) so tests and shutdown can await it. */
  track(work: Promise<unknown>): void;
  /** Schedules an incident for (re-)planning. */
  schedule(tenantId: string, applianceId: string, incidentId: string): void;
}

export async function sitePolicy(ctx: PlannerContext, tenantId: string): Promise<SitePolicy> {
  const stored = await ctx.store.planner.getSitePolicy(tenantId);
  // A stored policy was validated when written; a later, stricter schema fails closed to defaults.
  if (!stored) return DEFAULT_SITE_POLICY;
  const parsed = SitePolicy.safeParse(JSON.parse(stored.policyJson));
  return parsed.success ? parsed.data : DEFAULT_SITE_POLICY;
}

export async function killSwitch(
  ctx: PlannerContext,
): Promise<{ engaged: boolean; reason: string }> {
  if (ctx.settings.killSwitchForced)
    return { engaged: true, reason: "forced on in the config file" };
  const stored = await ctx.store.planner.getKillSwitch();
  return stored
    ? { engaged: stored.engaged, reason: stored.reason }
    : { engaged: false, reason: "" };
}

/** Moves an incident to the operator queue, records why, and notifies the webhook. */
export async function escalate(
  ctx: PlannerContext,
  incident: Incident,
  candidates: readonly string[],
  fields: Omit<DecisionFields, "outcome"> & { outcome?: "escalated" | "audit_only" },
  from: IncidentState["status"][] = ["planning"],
): Promise<void> {
  const outcome = fields.outcome ?? "escalated";
  const blocked = fields.guardrails.filter((g: GuardrailResult) => !g.passed).map((g) => g.name);
  // The status change and the decision record commit together (one transaction).
  const committed = await ctx.decisions.commit(
    incident,
    candidates,
    { ...fields, outcome },
    {
      from,
      to: "escalated",
      note: {
        reason: fields.reason,
        tier: fields.tier,
        ...(fields.runbook_id ? { suggested_runbook_id: fields.runbook_id } : {}),
        blocked_by: blocked,
      },
    },
  );
  if (!committed) return;
  const record = committed.record;
  const webhook = ctx.webhook;
  if (!webhook) return;
  const event = {
    type: "incident.escalated",
    tenant_id: incident.tenant_id,
    appliance_id: incident.appliance_id,
    incident_id: incident.incident_id,
    check_id: incident.check_id,
    severity: incident.severity,
    outcome,
    reason: fields.reason,
    ...(fields.runbook_id ? { suggested_runbook_id: fields.runbook_id } : {}),
    blocked_by: blocked,
    decision_seq: record.seq,
    at: record.recorded_at,
  };
  ctx.track(
    webhook.send(event).then((r) =>
      ctx.audit.record(
        "control-plane:webhook",
        r.delivered ? "webhook.delivered" : "webhook.failed",
        `${incident.tenant_id}/${incident.appliance_id}/incident/${incident.incident_id}`,
        {
          attempts: r.attempts,
          ...(r.status ? { status: r.status } : {}),
        },
      ),
    ),
  );
}
