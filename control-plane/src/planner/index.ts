import type { z } from "zod";
import type { Catalog } from "#catalog";
import {
  type HealingSuspension,
  type Incident,
  type L1RuleSet,
  type OrderParams,
  type OrderResult,
  type Signer,
  type SuspensionReason,
  verificationKey,
} from "#protocol";
import type { AuditLog } from "../audit.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { IncidentState, Store, StoredOrder } from "../store/index.ts";
import type { Ids } from "./bounded.ts";
import { announceStalled, planBounded, stalledIncidents } from "./bounded.ts";
import { matchingRunbooks } from "./candidates.ts";
import {
  DEFAULT_PLANNER_SETTINGS,
  killSwitch,
  type PlannerContext,
  type PlannerSettings,
  sitePolicy,
} from "./context.ts";
import { decisionRecorder } from "./decisions.ts";
import {
  currentRules,
  decideProposal,
  expireStaleOrders,
  onOrderResult,
  revokeRule,
  type SignedRuleSetCache,
  signedRuleSet,
} from "./flywheel.ts";
import type { LlmPlanner } from "./llm.ts";
import { approveEscalation, closeEscalation } from "./operator-queue.ts";
import { SitePolicy } from "./policy.ts";
import { type QualificationGate, qualificationGate } from "./qualify.ts";
import { suspensionOf, withdrawOrders } from "./suspension.ts";
import type { Webhook } from "./webhook.ts";

export { DEFAULT_PLANNER_SETTINGS, type PlannerSettings } from "./context.ts";
export { GUARDRAIL_NAMES } from "./guardrails.ts";
export { createLlmPlanner, type LlmConfig, type LlmPlanner } from "./llm.ts";
export { DEFAULT_SITE_POLICY, SitePolicy } from "./policy.ts";
export {
  createWebhook,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type Webhook,
  type WebhookConfig,
  webhookSignature,
} from "./webhook.ts";

export interface PlannerDeps {
  readonly catalog?: Catalog;
  readonly llm?: LlmPlanner;
  readonly webhook?: Webhook;
  readonly settings?: Partial<PlannerSettings>;
  /** Incidents planned at once (each may wait seconds on the model). */
  readonly concurrency?: number;
  /**
   * Scale-out: hands an incident to the work queue instead of this process's
   * in-memory queue; planner workers then call `plan` for each message. Absent (the embedded
   * default): incidents are planned here, as before.
   */
  readonly dispatch?: (ids: Ids) => Promise<void>;
}

export type { Ids } from "./bounded.ts";

/**
 * The incident pipeline as a service: incidents are planned in the background (an appliance's
 * POST never waits on a model), at most `concurrency` at a time; `drain` awaits all queued and
 * background work (tests, shutdown); `sweep` picks up incidents left queued (a restart).
 */
export interface Planner {
  submit(ids: Ids): Promise<void>;
  /**
   * Plans one queued incident now (a queue worker's handler); throws if planning failed (the
   * incident is queued again, the queue retries). `reclaim`: a redelivery whose previous
   * consumer did not finish (it died): an incident it left in `planning` is taken over.
   */
  plan(ids: Ids, options: { reclaim: boolean }): Promise<void>;
  /** Re-plans incidents whose order expired unreported, then schedules the queued ones. */
  sweep(): Promise<number>;
  /** At start-up (one instance): incidents left in planning go back to the queue, then a sweep. */
  recover(): Promise<number>;
  drain(): Promise<void>;
  onOrderResult(result: OrderResult): Promise<void>;
  approve(
    actor: string,
    ids: Ids,
    runbookId: string,
    params?: z.infer<typeof OrderParams>,
    /** Required to approve a runbook that is not a candidate; kept in the signed decision. */
    overrideReason?: string,
  ): Promise<StoredOrder>;
  close(
    actor: string,
    ids: Ids,
    outcome: "rejected" | "resolved_manually",
    note: string,
  ): Promise<void>;
  decideProposal(
    actor: string,
    tenantId: string,
    proposalId: string,
    decision: "approved" | "rejected",
    note: string | null,
  ): Promise<{ version?: number; ruleId?: string }>;
  revokeRule(actor: string, tenantId: string, ruleId: string): Promise<number>;
  rules(tenantId: string): ReturnType<typeof currentRules>;
  signedRuleSet(tenantId: string, applianceId: string): Promise<L1RuleSet | undefined>;
  policy(tenantId: string): Promise<SitePolicy>;
  setPolicy(actor: string, tenantId: string, policy: SitePolicy): Promise<void>;
  killSwitch(): Promise<{ engaged: boolean; reason: string }>;
  /** Engaging it withdraws every order not yet run, in every tenant (suspension.ts). */
  setKillSwitch(actor: string, engaged: boolean, reason: string): Promise<void>;
  /** Whether automatic healing is suspended for a site (kill switch, audit-only), and why. */
  suspension(tenantId: string): Promise<HealingSuspension | undefined>;
  /** While suspended: withdraws an appliance's automatic orders at delivery (the poll). */
  withdrawAutomatic(
    tenantId: string,
    applianceId: string,
    reason: SuspensionReason,
  ): Promise<StoredOrder[]>;
  readonly llmConfigured: boolean;
  /**
   * The configured model server and model, whether L2 may order with them, and the newest
   * signed qualification report for them (undefined: no model is configured).
   */
  qualification(): Promise<({ baseUrl: string; model: string } & QualificationGate) | undefined>;
  /** Incidents waiting in queued or planning past the bound (settings.stalledAfterS). */
  stalled(tenantId: string | null): Promise<IncidentState[]>;
  /** The catalog runbooks an operator may approve for this incident (L3 tier, matching triggers). */
  l3Candidates(incident: Incident): string[];
  /** Every L3-tier runbook (what an override with a reason may choose from). */
  l3Runbooks(): string[];
}

export function createPlanner(
  base: {
    store: Store;
    signer: Signer;
    audit: AuditLog;
    logger: Logger;
    now: () => Date;
    metrics?: Metrics;
  },
  deps: PlannerDeps = {},
): Planner {
  const pending = new Set<Promise<unknown>>();
  const queue: Ids[] = [];
  const queued = new Set<string>();
  const concurrency = deps.concurrency ?? 4;
  let running = 0;

  const track = (work: Promise<unknown>) => {
    const p = work.catch((error) =>
      base.logger.log("error", "planner background work failed", { err: error }),
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const key = (ids: Ids) => `${ids.tenantId}/${ids.applianceId}/${ids.incidentId}`;
  const pump = () => {
    while (running < concurrency && queue.length > 0) {
      const ids = queue.shift() as Ids;
      queued.delete(key(ids));
      running++;
      track(
        run(ids).finally(() => {
          running--;
          pump();
        }),
      );
    }
  };

  const signedRuleSets: SignedRuleSetCache = new Map();
  const ctx: PlannerContext = {
    ...base,
    catalog: deps.catalog,
    llm: deps.llm,
    webhook: deps.webhook,
    settings: { ...DEFAULT_PLANNER_SETTINGS, ...deps.settings },
    decisions: decisionRecorder({ ...base, store: base.store.planner }),
    track,
    schedule(tenantId, applianceId, incidentId) {
      const ids = { tenantId, applianceId, incidentId };
      if (deps.dispatch) return track(deps.dispatch(ids));
      if (queued.has(key(ids))) return;
      queued.add(key(ids));
      queue.push(ids);
      pump();
    },
  };

  const run = async (ids: Ids, rethrow = false) => {
    await planBounded(ctx, ids, rethrow);
  };
  const announced = new Set<string>();

  return {
    llmConfigured: deps.llm !== undefined,
    async qualification() {
      const llm = deps.llm;
      if (!llm) return undefined;
      const server = { baseUrl: llm.baseUrl, model: llm.model };
      const gate = await qualificationGate(
        base.store.planner,
        verificationKey(base.signer.publicKey),
        server,
        ctx.settings.qualification,
      );
      return { ...server, ...gate };
    },
    stalled: (tenantId) => stalledIncidents(ctx, tenantId),
    l3Runbooks: () =>
      deps.catalog
        ? deps.catalog.runbooks.filter((r) => r.tiers.includes("L3")).map((r) => r.id)
        : [],
    l3Candidates: (incident) =>
      deps.catalog ? matchingRunbooks(deps.catalog, incident, "L3").map((r) => r.id) : [],
    async submit(ids) {
      await base.store.planner.openIncident(
        ids.tenantId,
        ids.applianceId,
        ids.incidentId,
        base.now().toISOString(),
      );
      ctx.schedule(ids.tenantId, ids.applianceId, ids.incidentId);
    },
    async plan(ids, options) {
      if (options.reclaim) {
        await base.store.planner.transitionIncident(
          ids.tenantId,
          ids.applianceId,
          ids.incidentId,
          ["planning"],
          "queued",
          base.now().toISOString(),
          { reason: "redelivered: the previous worker did not finish" },
        );
      }
      await run(ids, true);
    },
    async sweep() {
      await expireStaleOrders(ctx);
      const waiting = await base.store.planner.incidentsIn("queued", null, 100);
      for (const s of waiting) ctx.schedule(s.tenantId, s.applianceId, s.incidentId);
      await announceStalled(ctx, announced);
      return waiting.length;
    },
    async recover() {
      const stuck = await base.store.planner.incidentsIn("planning", null, 1000);
      for (const s of stuck) {
        await base.store.planner.transitionIncident(
          s.tenantId,
          s.applianceId,
          s.incidentId,
          ["planning"],
          "queued",
          base.now().toISOString(),
          {
            reason: "interrupted by a restart",
          },
        );
      }
      return stuck.length + (await this.sweep());
    },
    async drain() {
      while (pending.size > 0 || queue.length > 0) await Promise.all([...pending]);
    },
    onOrderResult: (result) => onOrderResult(ctx, result),
    approve: (actor, ids, runbookId, params, overrideReason) =>
      approveEscalation(ctx, actor, ids, runbookId, params, overrideReason),
    close: (actor, ids, outcome, note) => closeEscalation(ctx, actor, ids, outcome, note),
    decideProposal: (actor, tenantId, proposalId, decision, note) =>
      decideProposal(ctx, actor, tenantId, proposalId, decision, note),
    revokeRule: (actor, tenantId, ruleId) => revokeRule(ctx, actor, tenantId, ruleId),
    rules: (tenantId) => currentRules(ctx, tenantId),
    signedRuleSet: (tenantId, applianceId) =>
      signedRuleSet(ctx, tenantId, applianceId, signedRuleSets),
    policy: (tenantId) => sitePolicy(ctx, tenantId),
    async setPolicy(actor, tenantId, policy) {
      const parsed = SitePolicy.parse(policy);
      const before = await sitePolicy(ctx, tenantId);
      await base.store.planner.putSitePolicy(
        tenantId,
        JSON.stringify(parsed),
        base.now().toISOString(),
        actor,
      );
      await base.audit.record(actor, "planner.policy_set", tenantId, { policy: parsed });
      // Turning audit-only on withdraws what the site has not run yet.
      if (parsed.audit_only && !before.audit_only)
        await withdrawOrders(ctx, actor, { tenantId }, "audit_only");
    },
    killSwitch: () => killSwitch(ctx),
    async setKillSwitch(actor, engaged, reason) {
      // The stored switch, not the effective one: a switch forced on in the config file does
      // not make an operator's engagement a no-op.
      const before = await base.store.planner.getKillSwitch();
      const at = base.now().toISOString();
      await base.store.planner.setKillSwitch(engaged, reason, at, actor);
      try {
        await base.audit.record(
          actor,
          engaged ? "planner.kill_switch_engaged" : "planner.kill_switch_released",
          "planner",
          { reason },
        );
      } catch (error) {
        // No change of the switch without its audit entry: put the stored state back.
        await base.store.planner.setKillSwitch(
          before?.engaged ?? false,
          before?.reason ?? "",
          at,
          actor,
        );
        throw error;
      }
      // Engaging withdraws every order not yet run, in every tenant.
      if (engaged && !before?.engaged)
        await withdrawOrders(ctx, actor, { tenantId: null }, "kill_switch");
    },
    suspension: (tenantId) => suspensionOf(ctx, tenantId),
    withdrawAutomatic: (tenantId, applianceId, reason) =>
      withdrawOrders(
        ctx,
        "control-plane:suspension",
        { tenantId, applianceId, tiers: ["L1", "L2"] },
        reason,
      ),
  };
}
