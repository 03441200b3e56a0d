import { durationMs } from "#catalog";
import type { GuardrailResult } from "#protocol";
import type { GuardrailCounters } from "../store/index.ts";
import { inMaintenanceWindow, type SitePolicy } from "./policy.ts";
import type { Incident, Runbook, Tier } from "./types.ts";

/**
 * The guardrails every automatic (L1 or L2) decision passes before it becomes a signed order.
 * Each is named, reads its limit from the site policy (or the global settings), and reports a
 * verdict with a reason; all are evaluated and recorded, so a decision record shows every limit
 * it was held against. A blocked decision goes to the operator queue (L3); audit_only records
 * what would have happened and goes there too.
 *
 * The counted limits (cooldown, max attempts, rate limit, blast radius) are evaluated inside
 * the transaction that writes the order, under the lock rows `guardrailLocks` names: two
 * workers deciding at one instant cannot both pass on the same count.
 */
export const GUARDRAIL_NAMES = [
  "kill_switch",
  "audit_only",
  "runbook_allowlist",
  "parameter_validation",
  "confidence_threshold",
  "cooldown",
  "max_attempts",
  "rate_limit",
  "blast_radius",
  "maintenance_window",
] as const;
export type GuardrailName = (typeof GUARDRAIL_NAMES)[number];

export interface Proposal {
  readonly tier: Extract<Tier, "L1" | "L2">;
  readonly runbook: Runbook;
  /** L2 only: the model's confidence. */
  readonly confidence?: number;
  /** The parameter check's verdict (params come from the incident, see candidates.ts). */
  readonly params: { ok: true } | { ok: false; problem: string };
}

export interface GuardrailContext {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly incident: Incident;
  readonly policy: SitePolicy;
  readonly killSwitch: { engaged: boolean; reason: string };
  /** Across all sites: most distinct appliances one runbook may be ordered on per hour. */
  readonly blastRadiusPerHour: number;
  /** Counters read inside the order's transaction (PlannerStore outside one). */
  readonly store: GuardrailCounters;
  readonly now: Date;
}

/**
 * The lock rows an automatic order's transaction takes before counting: its site's (cooldown,
 * max attempts and rate limit count within one tenant) and its runbook's (the blast radius
 * counts appliances across every tenant).
 */
export function guardrailLocks(tenantId: string, runbookId: string): string[] {
  return [`tenant:${tenantId}`, `runbook:${runbookId}`];
}

const HOUR_MS = 3_600_000;
const AUTOMATIC: ("L1" | "L2")[] = ["L1", "L2"];
/**
 * An order the kill switch or audit-only withdrew never ran: no counted guardrail counts it,
 * so the incident it was for is decided afresh once healing resumes (max attempts, cooldown).
 */
const NEVER_RAN = ["withdrawn"] as const;

export async function evaluateGuardrails(
  proposal: Proposal,
  ctx: GuardrailContext,
): Promise<GuardrailResult[]> {
  const { policy, runbook } = { policy: ctx.policy, runbook: proposal.runbook };
  const hourAgo = new Date(ctx.now.getTime() - HOUR_MS).toISOString();
  const verdict = (name: GuardrailName, passed: boolean, detail: string): GuardrailResult => ({
    name,
    passed,
    detail: detail.slice(0, 300),
  });

  const cooldownMs =
    policy.cooldown_s !== null ? policy.cooldown_s * 1000 : durationMs(runbook.cooldown);
  const [recentSame, incidentAttempts, siteOrders, appliances, applianceCounted] =
    await Promise.all([
      ctx.store.countAttempts({
        tenantId: ctx.tenantId,
        applianceId: ctx.applianceId,
        runbookId: runbook.id,
        since: new Date(ctx.now.getTime() - cooldownMs).toISOString(),
        excludeStatuses: NEVER_RAN,
      }),
      ctx.store.countAttempts({
        tenantId: ctx.tenantId,
        applianceId: ctx.applianceId,
        incidentId: ctx.incident.incident_id,
        excludeStatuses: NEVER_RAN,
      }),
      ctx.store.countAttempts({
        tenantId: ctx.tenantId,
        since: hourAgo,
        tiers: AUTOMATIC,
        excludeStatuses: NEVER_RAN,
      }),
      ctx.store.countAppliancesForRunbook(runbook.id, hourAgo, AUTOMATIC),
      ctx.store.countAttempts({
        tenantId: ctx.tenantId,
        applianceId: ctx.applianceId,
        runbookId: runbook.id,
        since: hourAgo,
        tiers: AUTOMATIC,
        excludeStatuses: NEVER_RAN,
      }),
    ]);
  const attempts = incidentAttempts + (ctx.incident.local_l1.attempted ? 1 : 0);
  const allowlist = policy.runbook_allowlist;
  const window = policy.maintenance_window;

  return [
    verdict(
      "kill_switch",
      !ctx.killSwitch.engaged,
      ctx.killSwitch.engaged
        ? `automatic orders are halted: ${ctx.killSwitch.reason || "no reason given"}`
        : "not engaged",
    ),
    verdict(
      "audit_only",
      !policy.audit_only,
      policy.audit_only ? "the site is in audit-only mode: record, do not order" : "enforcing",
    ),
    verdict(
      "runbook_allowlist",
      allowlist === null || allowlist.includes(runbook.id),
      allowlist === null
        ? "every catalog runbook is allowed at this site"
        : allowlist.includes(runbook.id)
          ? `${runbook.id} is in the site allowlist`
          : `${runbook.id} is not in the site allowlist`,
    ),
    verdict(
      "parameter_validation",
      proposal.params.ok,
      proposal.params.ok ? "params match the runbook schema" : proposal.params.problem,
    ),
    proposal.tier === "L2"
      ? verdict(
          "confidence_threshold",
          (proposal.confidence ?? 0) >= policy.min_confidence,
          `confidence ${proposal.confidence ?? 0} against ${policy.min_confidence}`,
        )
      : verdict("confidence_threshold", true, "deterministic L1 rule"),
    verdict(
      "cooldown",
      recentSame === 0,
      recentSame === 0
        ? `no ${runbook.id} on this appliance in the last ${cooldownMs / 1000} s`
        : `${runbook.id} already ordered on this appliance within ${cooldownMs / 1000} s`,
    ),
    verdict(
      "max_attempts",
      attempts < policy.max_attempts_per_incident,
      `${attempts} attempt(s) on this incident, at most ${policy.max_attempts_per_incident}`,
    ),
    verdict(
      "rate_limit",
      siteOrders < policy.max_orders_per_hour,
      `${siteOrders} automatic order(s) at this site in the last hour, at most ${policy.max_orders_per_hour}`,
    ),
    verdict(
      "blast_radius",
      applianceCounted > 0 || appliances < ctx.blastRadiusPerHour,
      `${appliances} appliance(s) given ${runbook.id} in the last hour across all sites, at most ${ctx.blastRadiusPerHour}`,
    ),
    verdict(
      "maintenance_window",
      !runbook.disruptive || (window !== null && inMaintenanceWindow(window, ctx.now)),
      !runbook.disruptive
        ? "not disruptive"
        : window === null
          ? "disruptive and the site has no maintenance window"
          : inMaintenanceWindow(window, ctx.now)
            ? "inside the maintenance window"
            : "disruptive and outside the maintenance window",
    ),
  ];
}
