import type { Runbook } from "#catalog";
import type { EvidenceEvent } from "#protocol";
import type { Clock, ExecutionOutcome, RunbookExecutor } from "../ports.ts";
import type { HealingState } from "./healing-state.ts";
import { CONTROL_RUNBOOKS } from "./kill-switch.ts";
import type { EffectivePolicy } from "./policy.ts";
import { type RunnerDeps, runRunbook } from "./runbook-runner.ts";

/**
 * The runbook executor behind signed orders (L2 planner, L3 human): the same runner, the same
 * evidence, the same policy as L1, plus the kill switch's control runbooks. The order itself was
 * already verified (signature, audience, nonce, sequence, expiry, allowlist, params) before it
 * reaches here. L2 orders count against the runbook's cooldown and max attempts like L1 (a planner
 * must not loop either); an L3 order is a person's explicit decision and is not rate-limited.
 */
export interface OrderExecutorDeps {
  readonly clock: Clock;
  readonly runbooks: readonly Runbook[];
  readonly policy: EffectivePolicy;
  readonly runner: RunnerDeps;
  readonly state: HealingState;
}

type Attempt = Extract<EvidenceEvent, { kind: "healing_attempt" }>;

export function orderExecutor(deps: OrderExecutorDeps): RunbookExecutor {
  return {
    async execute(order, context) {
      const now = deps.clock.now();
      if (CONTROL_RUNBOOKS.has(order.runbook_id)) {
        const applied = deps.state.killSwitch.apply(order, now);
        if ("problem" in applied) return { outcome: "failed", detail: applied.problem };
        context.record({ kind: "healing_control", event: applied.event, order_id: order.order_id });
        return { outcome: "succeeded", detail: `healing ${applied.event}` };
      }
      const runbook = deps.runbooks.find((r) => r.id === order.runbook_id);
      if (runbook === undefined) return { outcome: "failed", detail: "runbook not in the catalog" };
      const base = {
        kind: "healing_attempt" as const,
        runbook_id: runbook.id,
        runbook_version: runbook.version,
        tier: order.tier,
        order_id: order.order_id,
      };
      const stop = (
        outcome: Attempt["outcome"],
        detail: string,
        result: ExecutionOutcome = "failed",
      ) => {
        context.record({ ...base, outcome, detail });
        return { outcome: result, detail };
      };

      const audit = deps.policy.auditBlocks(runbook);
      if (audit !== null) return stop("audit_only", audit);
      const paused = deps.state.killSwitch.paused();
      if (paused) return stop("paused", `healing paused by order ${paused.order_id}`);
      // The control plane withdraws automatic orders when it suspends; should one still arrive,
      // the suspension stated by the latest verified poll refuses it here.
      const suspended = deps.state.killSwitch.suspended();
      if (suspended && order.tier !== "L3") {
        return stop("suspended", `automatic healing suspended (${suspended.reasons.join(", ")})`);
      }
      let attempt: number | undefined;
      if (order.tier === "L2") {
        const verdict = deps.state.ledger.check(runbook, now);
        if (verdict.kind === "cooldown") {
          return stop("cooldown", `next attempt after ${verdict.until.toISOString()}`);
        }
        if (verdict.kind === "exhausted") {
          return stop("exhausted", `max_attempts ${runbook.max_attempts} reached`);
        }
      }
      if (runbook.disruptive && !deps.policy.inWindow(now)) {
        return stop("deferred", "disruptive: waits for the maintenance window", "deferred");
      }
      if (order.tier === "L2") attempt = deps.state.ledger.record(runbook, now);
      const report = await runRunbook(
        { runbook, params: order.params, tier: order.tier, orderId: order.order_id },
        deps.runner,
        context.record,
        context.signal,
      );
      const outcome: Attempt["outcome"] =
        report.outcome === "succeeded"
          ? "healed"
          : report.outcome === "rolled_back"
            ? "reverted"
            : report.outcome === "precondition_failed"
              ? "precondition_failed"
              : "failed";
      context.record({
        ...base,
        outcome,
        ...(attempt === undefined ? {} : { attempt }),
        detail: report.detail.slice(0, 500),
      });
      return {
        outcome:
          report.outcome === "succeeded"
            ? "succeeded"
            : report.outcome === "rolled_back"
              ? "rolled_back"
              : "failed",
        detail: report.detail,
      };
    },
  };
}
