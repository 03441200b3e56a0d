import type { z } from "zod";
import { type Baseline, type DriftCheckId, isDriftCheckId, type Runbook } from "#catalog";
import type { EvidenceEvent, Finding, OrderParams, SealedBundle } from "#protocol";
import type { Journal, JournalIdentity } from "../journal.ts";
import type { CheckResultEvent, Clock } from "../ports.ts";
import { paramsFromFinding } from "./finding-params.ts";
import { type HealingState, IN_FLIGHT } from "./healing-state.ts";
import { buildIncident, driftKey, OUTBOX_INCIDENT } from "./incidents.ts";
import type { L1Engine } from "./l1-engine.ts";
import type { EffectivePolicy } from "./policy.ts";
import { changesHost, type RunnerDeps, runRunbook } from "./runbook-runner.ts";

/**
 * The L1 healer: after each round of checks, every drift finding is matched to an L1 rule and
 * healed through its runbook, unless the policy says not to act now. Decision order per runbook:
 * audit-only → paused (kill switch) → suspended (a flywheel rule while the control plane's kill
 * switch or audit-only holds) → params from the finding → cooldown / max attempts →
 * maintenance window (disruptive runbooks) → run. Each decision is a healing_attempt bundle;
 * drift nobody healed (no rule, audit, paused, failed, exhausted) becomes one incident.
 */
export interface HealerDeps {
  readonly journal: Journal;
  readonly identity: JournalIdentity;
  readonly clock: Clock;
  readonly runbooks: readonly Runbook[];
  readonly baseline: Pick<Baseline, "allowed_units">;
  readonly engine: L1Engine;
  readonly policy: EffectivePolicy;
  readonly runner: RunnerDeps;
}

interface Group {
  readonly runbook: Runbook;
  /** Matched by a flywheel rule (the control plane's suspension holds those). */
  readonly flywheel: boolean;
  readonly params: z.infer<typeof OrderParams>;
  readonly findings: Finding[];
  readonly keys: string[];
}

type Attempt = Extract<EvidenceEvent, { kind: "healing_attempt" }>;

export async function healDrift(
  deps: HealerDeps,
  state: HealingState,
  sealed: readonly SealedBundle[],
  signal: AbortSignal,
): Promise<void> {
  for (const bundle of sealed) {
    if (signal.aborted) return;
    const event = bundle.bundle.event;
    if (event.kind !== "check_result" || !isDriftCheckId(event.check_id)) continue;
    if (event.status === "pass" || event.status === "drift") {
      state.incidents.settle(
        event.check_id,
        new Set(event.findings.map((f) => driftKey(event.check_id, f))),
      );
    }
    if (event.status !== "drift") continue;
    await healResult(deps, state, event, bundle, signal);
  }
}

async function healResult(
  deps: HealerDeps,
  state: HealingState,
  event: CheckResultEvent,
  bundle: SealedBundle,
  signal: AbortSignal,
): Promise<void> {
  const check = event.check_id as DriftCheckId;
  const record = (attempt: Omit<Attempt, "kind" | "tier" | "check_id">) =>
    deps.journal.append(
      [{ kind: "healing_attempt", tier: "L1", check_id: check, ...attempt }],
      deps.clock.now(),
    );
  const escalate = (
    findings: readonly Finding[],
    keys: readonly string[],
    localL1: Parameters<typeof buildIncident>[0]["localL1"],
    policy = false,
  ) => {
    // Already reported: a policy hold is not news; an L1 failure after a policy hold is.
    const existing = keys.map((key) => state.incidents.openFor(key));
    const [first] = existing;
    if (first && existing.every((e) => e !== undefined && (policy || !e.policy))) return first.id;
    const incident = buildIncident({
      identity: deps.identity,
      check,
      severity: event.severity,
      findings,
      evidence: bundle.head,
      detectedAt: new Date(bundle.bundle.recorded_at),
      localL1,
    });
    deps.journal.transaction(() => {
      deps.journal.append(
        [
          {
            kind: "incident_opened",
            incident_id: incident.incident_id,
            check_id: check,
            severity: event.severity,
          },
        ],
        deps.clock.now(),
      );
      deps.journal.enqueue(OUTBOX_INCIDENT, incident);
      state.incidents.open(keys, incident.incident_id, policy);
    });
    return incident.incident_id;
  };

  const unmatched: Finding[] = [];
  const groups = new Map<string, Group>();
  const invalid: { finding: Finding; runbook: Runbook; problem: string }[] = [];
  for (const finding of event.findings) {
    // Reported and beyond L1 (no rule, failed, exhausted): left to the control plane.
    if (state.incidents.openFor(driftKey(check, finding))?.policy === false) continue;
    const rule = deps.engine.match(check, finding.code);
    const runbook = rule && deps.runbooks.find((r) => r.id === rule.runbookId);
    if (runbook === undefined) {
      unmatched.push(finding);
      continue;
    }
    const params = paramsFromFinding(runbook, finding, deps.baseline);
    if (typeof params === "string") {
      invalid.push({ finding, runbook, problem: params });
      continue;
    }
    const id = `${runbook.id}\u0000${JSON.stringify(params)}`;
    const flywheel = rule?.source === "flywheel";
    const group = groups.get(id) ?? { runbook, params, flywheel, findings: [], keys: [] };
    group.findings.push(finding);
    group.keys.push(driftKey(check, finding));
    groups.set(id, group);
  }

  if (unmatched.length > 0) {
    const why = `no L1 rule for ${[...new Set(unmatched.map((f) => f.code))].join(", ")}`;
    const incidentId = escalate(
      unmatched,
      unmatched.map((f) => driftKey(check, f)),
      { attempted: false, why_not: why.slice(0, 200) },
    );
    record({ outcome: "no_rule", incident_id: incidentId, detail: why.slice(0, 500) });
  }
  for (const { finding, runbook, problem } of invalid) {
    const why = `the finding cannot fill ${runbook.id}'s params: ${problem}`.slice(0, 200);
    const incidentId = escalate([finding], [driftKey(check, finding)], {
      attempted: false,
      why_not: why,
    });
    record({
      outcome: "failed",
      runbook_id: runbook.id,
      runbook_version: runbook.version,
      incident_id: incidentId,
      detail: why,
    });
  }

  for (const group of groups.values()) {
    if (signal.aborted) return;
    const { runbook } = group;
    const base = { runbook_id: runbook.id, runbook_version: runbook.version };
    const now = deps.clock.now();
    const audit = deps.policy.auditOnly(check)
      ? (deps.policy.auditBlocks(runbook) ?? `audit-only check: ${check}`)
      : null;
    if (audit !== null) {
      const incidentId = escalate(
        group.findings,
        group.keys,
        { attempted: false, why_not: audit },
        true,
      );
      record({ ...base, outcome: "audit_only", incident_id: incidentId, detail: audit });
      continue;
    }
    const paused = state.killSwitch.paused();
    if (paused !== undefined) {
      const why = `healing paused by order ${paused.order_id}`;
      const incidentId = escalate(
        group.findings,
        group.keys,
        { attempted: false, why_not: why },
        true,
      );
      record({ ...base, outcome: "paused", incident_id: incidentId, detail: why });
      continue;
    }
    const suspended = group.flywheel ? state.killSwitch.suspended() : undefined;
    if (suspended !== undefined) {
      // A policy hold: once the control plane lifts it, the next round heals with the rule.
      const why = `flywheel rules suspended by the control plane (${suspended.reasons.join(", ")})`;
      const incidentId = escalate(
        group.findings,
        group.keys,
        { attempted: false, why_not: why },
        true,
      );
      record({ ...base, outcome: "suspended", incident_id: incidentId, detail: why });
      continue;
    }
    const verdict = state.ledger.check(runbook, now);
    if (verdict.kind === "cooldown") {
      record({
        ...base,
        outcome: "cooldown",
        attempt: verdict.attempts,
        detail: `next attempt after ${verdict.until.toISOString()}`,
      });
      continue;
    }
    if (verdict.kind === "exhausted") {
      const incidentId = escalate(group.findings, group.keys, {
        attempted: true,
        runbook_id: runbook.id,
        outcome: "failed",
      });
      record({
        ...base,
        outcome: "exhausted",
        attempt: verdict.attempts,
        incident_id: incidentId,
        detail: `max_attempts ${runbook.max_attempts} reached`,
      });
      continue;
    }
    if (runbook.disruptive && !deps.policy.inWindow(now)) {
      record({
        ...base,
        outcome: "deferred",
        detail: "disruptive: waits for the maintenance window",
      });
      continue;
    }
    const attempt = state.ledger.record(runbook, now);
    deps.journal.setState(IN_FLIGHT, JSON.stringify({ runbook: runbook.id, check, attempt }));
    const report = await runRunbook(
      { runbook, params: group.params, tier: "L1" },
      deps.runner,
      (e) => deps.journal.append([e], deps.clock.now()),
      signal,
    );
    deps.journal.setState(IN_FLIGHT, "");
    if (report.outcome === "succeeded" && !changesHost(runbook)) {
      // An alert-only runbook (encryption) ran, but the drift stays until a person acts.
      const why = `${runbook.id} only alerts; a person must act`;
      const incidentId = escalate(group.findings, group.keys, { attempted: false, why_not: why });
      record({ ...base, outcome: "notified", attempt, incident_id: incidentId, detail: why });
    } else if (report.outcome === "succeeded") {
      record({ ...base, outcome: "healed", attempt, detail: report.detail });
    } else if (report.outcome === "precondition_failed") {
      const why = `precondition not met: ${report.detail}`.slice(0, 200);
      const incidentId = escalate(group.findings, group.keys, { attempted: false, why_not: why });
      record({
        ...base,
        outcome: "precondition_failed",
        attempt,
        incident_id: incidentId,
        detail: why,
      });
    } else {
      const outcome = report.outcome === "rolled_back" ? "rolled_back" : "failed";
      const incidentId = escalate(group.findings, group.keys, {
        attempted: true,
        runbook_id: runbook.id,
        outcome,
      });
      record({
        ...base,
        outcome: report.outcome === "rolled_back" ? "reverted" : "failed",
        attempt,
        incident_id: incidentId,
        detail: report.detail.slice(0, 500),
      });
    }
  }
}
