import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  backoffDelay,
  EvidenceBundle,
  Incident,
  type L1RuleEntry,
  L1RuleSet,
  type OrderResult,
  signDocument,
  tryParseMessage,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { AttemptStatus, RuleProposal, Store } from "../store/index.ts";
import type { PlannerContext } from "./context.ts";
import type { Runbook } from "./types.ts";

/**
 * The data flywheel. Each order the planner or an operator issued for an incident gets its
 * verified outcome: the appliance's order result, accepted only when the evidence bundle it
 * names (already verified and stored) records the same order and outcome. A pattern (check id
 * and finding kind) with at least N verified L2 successes with one runbook and no failure at
 * all becomes an L1 rule proposal; an operator approves it into the site's next signed rule set.
 */
const FINAL: Partial<Record<OrderResult["outcome"], Exclude<AttemptStatus, "pending">>> = {
  succeeded: "succeeded",
  failed: "failed",
  rolled_back: "failed",
  rejected: "rejected",
  expired: "expired",
};

export async function onOrderResult(ctx: PlannerContext, result: OrderResult): Promise<void> {
  const status = FINAL[result.outcome];
  if (!status) return; // deferred: not an outcome yet
  const { tenant_id: tenantId, appliance_id: applianceId } = result;
  if (!(await outcomeInEvidence(ctx.store, result))) {
    await ctx.audit.record(
      `appliance:${tenantId}/${applianceId}`,
      "flywheel.outcome_unverified",
      `${tenantId}/${applianceId}/order/${result.order_id}`,
      { evidence_seq: result.evidence_seq, outcome: result.outcome },
    );
    return;
  }
  const attempt = await ctx.store.planner.finishAttempt(
    tenantId,
    result.order_id,
    status,
    ctx.now().toISOString(),
  );
  if (!attempt) return; // not an incident's order, or its outcome is already known
  const state = await ctx.store.planner.getIncident(tenantId, applianceId, attempt.incidentId);
  const parsed = state ? tryParseMessage(Incident, JSON.parse(state.bodyJson)) : undefined;
  if (!state || !parsed?.ok) return;
  await ctx.decisions.record(parsed.value, [], {
    tier: attempt.tier,
    decided_by: `appliance:${applianceId}`,
    outcome: "outcome_verified",
    runbook_id: attempt.runbookId,
    order_id: attempt.orderId,
    reason: `order ${status}; evidence seq ${result.evidence_seq} records it`,
    guardrails: [],
  });
  const at = ctx.now().toISOString();
  if (status === "succeeded") {
    await ctx.store.planner.transitionIncident(
      tenantId,
      applianceId,
      state.incidentId,
      ["ordered"],
      "resolved",
      at,
      {
        order_id: attempt.orderId,
        resolved_by: attempt.tier,
      },
    );
    if (attempt.tier === "L2")
      await maybePropose(ctx, tenantId, attempt.patternKey, attempt.runbookId);
  } else if (
    await ctx.store.planner.transitionIncident(
      tenantId,
      applianceId,
      state.incidentId,
      ["ordered"],
      "queued",
      at,
      {
        previous_order: attempt.orderId,
        previous_outcome: status,
      },
    )
  ) {
    // Back through the tiers; the max_attempts and cooldown guardrails bound the retries.
    ctx.schedule(tenantId, applianceId, state.incidentId);
  }
}

/**
 * Whether the catalog already gives the appliance an L1 rule for this finding. The appliance's
 * L1 engine prefers its shipped catalog rules, so a flywheel rule there would never run: the
 * flywheel proposes only for findings no shipped L1 rule covers (today: runbooks the catalog
 * allows only at L2/L3, such as RB-CPU-001-high). The operator's approval is what promotes
 * such a runbook to L1 for that one finding at that one site.
 */
function shippedL1Rule(runbooks: readonly Runbook[], check: string, finding: string): boolean {
  return runbooks.some(
    (r) =>
      r.tiers.includes("L1") &&
      r.triggers.some((t) => t.check === check && t.findings.includes(finding)),
  );
}

/**
 * Orders the appliance never reported on (offline, or the order expired undelivered): once an
 * order is past its validity, its incident goes back through the tiers, where the guardrails
 * (max_attempts, cooldown) decide whether to try again or ask a human.
 */
export async function expireStaleOrders(ctx: PlannerContext): Promise<number> {
  const now = ctx.now();
  const cutoff = new Date(now.getTime() - ctx.settings.orderTtlS * 1000).toISOString();
  let expired = 0;
  for (const attempt of await ctx.store.planner.staleAttempts(cutoff, 100)) {
    const order = await ctx.store.getOrder(attempt.tenantId, attempt.orderId);
    if (order && Date.parse(order.expiresAt) > now.getTime()) continue;
    const at = now.toISOString();
    if (
      !(await ctx.store.planner.finishAttempt(attempt.tenantId, attempt.orderId, "expired", at))
    ) {
      continue;
    }
    expired++;
    const ids = [attempt.tenantId, attempt.applianceId, attempt.incidentId] as const;
    await ctx.audit.record(
      "control-plane:pipeline",
      "incident.order_expired",
      `${attempt.tenantId}/${attempt.applianceId}/incident/${attempt.incidentId}`,
      { order_id: attempt.orderId, runbook_id: attempt.runbookId },
    );
    if (
      await ctx.store.planner.transitionIncident(...ids, ["ordered"], "queued", at, {
        previous_order: attempt.orderId,
        previous_outcome: "expired",
      })
    ) {
      ctx.schedule(...ids);
    }
  }
  return expired;
}

/** The evidence bundle at `evidence_seq` records this very order with this outcome. */
async function outcomeInEvidence(store: Store, result: OrderResult): Promise<boolean> {
  const [row] = await store.listEvidence(
    result.tenant_id,
    result.appliance_id,
    result.evidence_seq - 1,
    1,
  );
  if (!row || row.seq !== result.evidence_seq) return false;
  const bundle = tryParseMessage(EvidenceBundle, JSON.parse(row.bundleJson));
  if (!bundle.ok) return false;
  const event = bundle.value.event;
  if (result.outcome === "rejected" || result.outcome === "expired") {
    return event.kind === "order_rejected" && event.order_id === result.order_id;
  }
  return (
    event.kind === "order_result" &&
    event.order_id === result.order_id &&
    event.outcome === result.outcome
  );
}

async function maybePropose(
  ctx: PlannerContext,
  tenantId: string,
  pattern: string,
  runbookId: string,
): Promise<void> {
  const outcomes = await ctx.store.planner.attemptOutcomes(tenantId, pattern, "L2");
  const successes = outcomes
    .filter((o) => o.status === "succeeded" && o.runbookId === runbookId)
    .reduce((n, o) => n + o.count, 0);
  const failures = outcomes
    .filter((o) => o.status === "failed" || o.status === "rejected" || o.status === "expired")
    .reduce((n, o) => n + o.count, 0);
  const otherRunbooks = outcomes.some((o) => o.status === "succeeded" && o.runbookId !== runbookId);
  if (successes < ctx.settings.flywheelMinSuccesses || failures > 0 || otherRunbooks) return;
  const [checkId = "", finding = ""] = pattern.split("/");
  if (!ctx.catalog || shippedL1Rule(ctx.catalog.runbooks, checkId, finding)) return;
  const proposalId = randomUUID();
  const created = await ctx.store.planner.createProposal({
    proposalId,
    tenantId,
    patternKey: pattern,
    checkId,
    finding,
    runbookId,
    successes,
    status: "proposed",
    createdAt: ctx.now().toISOString(),
  });
  if (created) {
    await ctx.audit.record(
      "control-plane:flywheel",
      "flywheel.rule_proposed",
      `${tenantId}/proposal/${proposalId}`,
      {
        pattern,
        runbook_id: runbookId,
        successes,
        failures,
      },
    );
  }
}

export async function decideProposal(
  ctx: PlannerContext,
  actor: string,
  tenantId: string,
  proposalId: string,
  decision: "approved" | "rejected",
  note: string | null,
): Promise<{ version?: number; ruleId?: string }> {
  const proposal = await ctx.store.planner.getProposal(tenantId, proposalId);
  if (!proposal) throw new ControlPlaneError("not_found", "no such proposal");
  const at = ctx.now().toISOString();
  if (!(await ctx.store.planner.decideProposal(tenantId, proposalId, decision, at, actor, note))) {
    throw new ControlPlaneError("conflict", "the proposal was already decided");
  }
  if (decision === "rejected") {
    await ctx.audit.record(actor, "flywheel.rule_rejected", `${tenantId}/proposal/${proposalId}`, {
      pattern: proposal.patternKey,
      runbook_id: proposal.runbookId,
      ...(note ? { note } : {}),
    });
    return {};
  }
  const rule = promotedRule(proposal, actor, at);
  const version = await publishRules(ctx, tenantId, (rules) => withRule(rules, rule));
  await ctx.audit.record(actor, "flywheel.rule_approved", `${tenantId}/proposal/${proposalId}`, {
    rule_id: rule.rule_id,
    pattern: proposal.patternKey,
    runbook_id: rule.runbook_id,
    rule_set_version: version,
  });
  return { version, ruleId: rule.rule_id };
}

/** The L1 rule an approved proposal becomes. */
export const promotedRule = (
  proposal: Pick<RuleProposal, "checkId" | "finding" | "runbookId" | "successes">,
  approvedBy: string,
  at: string,
): L1RuleEntry => ({
  rule_id: randomUUID(),
  check_id: proposal.checkId,
  finding: proposal.finding,
  runbook_id: proposal.runbookId,
  approved_by: approvedBy,
  approved_at: at,
  successes: proposal.successes,
});

/** A rule set with `rule` in place of any rule for the same check and finding. */
export const withRule = (rules: readonly L1RuleEntry[], rule: L1RuleEntry): L1RuleEntry[] => [
  ...rules.filter((r) => !(r.check_id === rule.check_id && r.finding === rule.finding)),
  rule,
];

export async function revokeRule(
  ctx: PlannerContext,
  actor: string,
  tenantId: string,
  ruleId: string,
): Promise<number> {
  const current = await currentRules(ctx, tenantId);
  if (!current.rules.some((r) => r.rule_id === ruleId)) {
    throw new ControlPlaneError("not_found", "no such rule in the current rule set");
  }
  const version = await publishRules(ctx, tenantId, (rules) =>
    rules.filter((r) => r.rule_id !== ruleId),
  );
  await ctx.audit.record(actor, "flywheel.rule_revoked", `${tenantId}/rule/${ruleId}`, {
    rule_set_version: version,
  });
  return version;
}

export async function currentRules(ctx: PlannerContext, tenantId: string) {
  const set = await ctx.store.planner.latestRuleSet(tenantId);
  return set
    ? {
        version: set.version,
        issuedAt: set.issuedAt,
        rules: JSON.parse(set.rulesJson) as L1RuleEntry[],
      }
    : { version: 0, issuedAt: null, rules: [] as L1RuleEntry[] };
}

/** Writes the next version (versions only grow); retries when a concurrent writer won. */
async function publishRules(
  ctx: PlannerContext,
  tenantId: string,
  change: (rules: readonly L1RuleEntry[]) => L1RuleEntry[],
): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await currentRules(ctx, tenantId);
    const version = current.version + 1;
    const written = await ctx.store.planner.appendRuleSet({
      tenantId,
      version,
      issuedAt: ctx.now().toISOString(),
      rulesJson: JSON.stringify(change(current.rules)),
    });
    if (written) return version;
    // Another writer took this version: wait a little (spread, so racing writers part) and
    // build the next version on top of theirs.
    await sleep(backoffDelay(attempt, 5, 100, 0.5));
  }
  throw new ControlPlaneError("conflict", "the rule set changed concurrently; try again");
}

/** Signed rule sets by tenant and appliance, each kept until its site's version changes. */
export type SignedRuleSetCache = Map<
  string,
  { version: number; issuedAt: string; rulesJson: string; signed: L1RuleSet }
>;
/** Bound on the cache: past it, it starts again empty (one signature per appliance). */
const SIGNED_RULE_SET_CACHE_MAX = 200_000;

/**
 * The site's current rule set, signed for one appliance (audience), for its poll response.
 * A version is never rewritten (appendRuleSet only adds the next one), so the signed document
 * of a version is made once per appliance and served from `cache` on every later poll; the
 * stored version, date and rules must all match (a tenant deleted and registered again starts
 * over at version 1).
 */
export async function signedRuleSet(
  ctx: Pick<PlannerContext, "store" | "signer">,
  tenantId: string,
  applianceId: string,
  cache?: SignedRuleSetCache,
): Promise<L1RuleSet | undefined> {
  const set = await ctx.store.planner.latestRuleSet(tenantId);
  if (!set) return undefined;
  const key = `${tenantId}\u0000${applianceId}`;
  const cached = cache?.get(key);
  if (
    cached?.version === set.version &&
    cached.issuedAt === set.issuedAt &&
    cached.rulesJson === set.rulesJson
  )
    return cached.signed;
  const signed = signDocument<L1RuleSet>(
    L1RuleSet,
    {
      v: 1,
      type: "l1_rule_set",
      tenant_id: tenantId,
      appliance_id: applianceId,
      version: set.version,
      issued_at: set.issuedAt,
      rules: JSON.parse(set.rulesJson),
    },
    ctx.signer,
  );
  if (cache) {
    if (cache.size >= SIGNED_RULE_SET_CACHE_MAX) cache.clear();
    cache.set(key, { ...set, signed });
  }
  return signed;
}
