import {
  type GuardrailResult,
  Incident,
  type L1RuleEntry,
  type LlmUsage,
  tryParseMessage,
  verificationKey,
} from "#protocol";
import { auditOrderCreated, newOrder } from "../orders.ts";
import type { GuardrailCounters, IncidentState } from "../store/index.ts";
import { abandon } from "./abandon.ts";
import { deriveParams, l2Candidates, patternKey, triggeringFinding } from "./candidates.ts";
import { escalate, killSwitch, type PlannerContext, sitePolicy } from "./context.ts";
import { evaluateGuardrails, guardrailLocks, type Proposal } from "./guardrails.ts";
import { plannerInput } from "./prompt.ts";
import { unqualifiedReason } from "./qualify.ts";
import type { Runbook } from "./types.ts";

const PIPELINE = "control-plane:pipeline";

/**
 * One incident through the tiers: the site's approved L1 rules (deterministic), else the L2
 * planner, else a human (L3). A proposal from L1 or L2 then passes every guardrail; only then
 * does it become an order. Every outcome is a signed decision record and an audit entry.
 * The incident must be in status `planning` (the caller claimed it).
 */
export async function planIncident(ctx: PlannerContext, state: IncidentState): Promise<void> {
  const parsed = tryParseMessage(Incident, JSON.parse(state.bodyJson));
  if (!parsed.ok) {
    // Stored incidents were parsed on receipt; a body that no longer parses is left for a human.
    const first = parsed.problem.split("\n")[0] ?? "";
    return abandon(ctx, state, `the stored incident no longer parses: ${first}`);
  }
  const incident = parsed.value;
  const catalog = ctx.catalog;
  // No proposal at all: the incident goes to a human, with the L2 call's record if there was one.
  const toHuman = (reason: string, candidates: readonly string[], llm?: LlmUsage) =>
    escalate(ctx, incident, candidates, {
      tier: "L2",
      decided_by: llm ? `l2:${llm.model}` : PIPELINE,
      reason,
      guardrails: [],
      ...(llm ? { llm } : {}),
    });
  if (!catalog) return toHuman("no runbook catalog is loaded", []);

  const policy = await sitePolicy(ctx, state.tenantId);
  const { candidates, failedLocally } = l2Candidates(catalog, incident);
  const candidateIds = candidates.map((r) => r.id);
  const byId = (id: string) => catalog.runbooks.find((r) => r.id === id);

  let proposal: Omit<Proposal, "params"> & { decidedBy: string; reason: string; llm?: LlmUsage };
  const rule = await l1Rule(ctx, incident);
  const ruleRunbook = rule ? byId(rule.runbook_id) : undefined;
  if (rule && ruleRunbook) {
    proposal = {
      tier: "L1",
      runbook: ruleRunbook,
      decidedBy: `control-plane:l1:${rule.rule_id}`,
      reason: `approved L1 rule ${rule.check_id}/${rule.finding} → ${rule.runbook_id}`,
    };
  } else {
    if (!policy.l2_enabled)
      return toHuman("the L2 planner is disabled for this site", candidateIds);
    if (!ctx.llm) return toHuman("no L2 planner (LLM) is configured", candidateIds);
    const off = await unqualifiedReason(
      ctx.store.planner,
      verificationKey(ctx.signer.publicKey),
      ctx.llm,
      ctx.settings.qualification,
    );
    if (off) return toHuman(off, candidateIds);
    if (candidates.length === 0) {
      return toHuman(
        failedLocally
          ? `no runbook's triggers match this incident other than ${failedLocally}, which failed locally`
          : "no runbook's triggers match this incident",
        candidateIds,
      );
    }
    const previous = await ctx.store.planner.attemptsFor(
      state.tenantId,
      state.applianceId,
      state.incidentId,
    );
    const answer = await ctx.llm.choose(
      plannerInput(
        incident,
        previous.map((a) => ({ runbook_id: a.runbookId, outcome: a.status })),
      ),
      candidates,
    );
    if (answer.kind === "failed") {
      return toHuman(`L2 failed: ${answer.failure}`, candidateIds, answer.usage);
    }
    if (answer.kind === "escalate") {
      return toHuman("the L2 planner chose to escalate", candidateIds, answer.usage);
    }
    const runbook = byId(answer.runbookId) as Runbook; // one of the candidates, checked in llm.ts
    proposal = {
      tier: "L2",
      runbook,
      confidence: answer.confidence,
      decidedBy: `l2:${answer.usage.model}`,
      reason: `the L2 planner chose ${runbook.id}`,
      llm: answer.usage,
    };
  }

  const derived = deriveParams(catalog, proposal.runbook, incident);
  const guardrailContext = {
    tenantId: state.tenantId,
    applianceId: state.applianceId,
    incident,
    policy,
    killSwitch: await killSwitch(ctx),
    blastRadiusPerHour: ctx.settings.blastRadiusPerHour,
    now: ctx.now(),
  };
  const evaluate = (counters: GuardrailCounters) =>
    evaluateGuardrails(
      { ...proposal, params: derived.ok ? { ok: true } : derived },
      { ...guardrailContext, store: counters },
    );
  const common = {
    tier: proposal.tier,
    runbook_id: proposal.runbook.id,
    ...(proposal.llm ? { llm: proposal.llm } : {}),
  };
  const blocked = (guardrails: GuardrailResult[]) => {
    const names = guardrails.filter((g) => !g.passed).map((g) => g.name);
    const auditOnly = names.length === 1 && names[0] === "audit_only";
    return escalate(ctx, incident, candidateIds, {
      ...common,
      guardrails,
      decided_by: auditOnly ? proposal.decidedBy : "control-plane:guardrails",
      reason: auditOnly
        ? `audit-only: ${proposal.reason}; not ordered`
        : `${proposal.reason}; blocked by ${names.join(", ")}`,
      outcome: auditOnly ? "audit_only" : "escalated",
    });
  };
  // Parameters that do not validate make no order: the verdicts are recorded as they stand.
  if (!derived.ok) return blocked(await evaluate(ctx.store.planner));

  // The guardrails are decided inside the transaction that writes the order, under the site's
  // and the runbook's lock rows; the order, its attempt row, the status change and the decision
  // record commit together: a worker killed before the commit leaves nothing, and a takeover
  // after it finds the incident no longer in `planning` and issues no second order.
  const order = newOrder(ctx.now(), {
    runbookId: proposal.runbook.id,
    params: derived.params,
    tier: proposal.tier,
    ttlS: ctx.settings.orderTtlS,
  });
  const finding = triggeringFinding(proposal.runbook, incident);
  const committed = await ctx.decisions.commitGuarded(
    incident,
    candidateIds,
    {
      ...common,
      guardrails: [],
      decided_by: proposal.decidedBy,
      outcome: "order_issued",
      order_id: order.orderId,
      reason: proposal.reason,
    },
    {
      from: ["planning"],
      to: "ordered",
      note: { order_id: order.orderId, runbook_id: order.runbookId, tier: proposal.tier },
      order: { order, patternKey: patternKey(incident.check_id, finding?.code ?? "") },
    },
    { locks: guardrailLocks(state.tenantId, proposal.runbook.id), evaluate },
  );
  if (committed && "blocked" in committed) return blocked(committed.blocked);
  if (committed?.order) {
    await auditOrderCreated(ctx, proposal.decidedBy, committed.order, state.incidentId);
  }
}

/**
 * The site's approved rule for this incident, unless the appliance's own L1 already ran that
 * runbook for it and failed (then the control plane does not repeat it blindly).
 */
async function l1Rule(ctx: PlannerContext, incident: Incident): Promise<L1RuleEntry | undefined> {
  const set = await ctx.store.planner.latestRuleSet(incident.tenant_id);
  if (!set) return undefined;
  const rules = JSON.parse(set.rulesJson) as L1RuleEntry[];
  const codes = new Set(incident.findings.map((f) => f.code));
  const triedLocally = incident.local_l1.attempted ? incident.local_l1.runbook_id : undefined;
  return rules.find(
    (r) =>
      r.check_id === incident.check_id && codes.has(r.finding) && r.runbook_id !== triedLocally,
  );
}
