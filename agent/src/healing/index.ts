/**
 * The healer: L1 rules, the runbook runner, maintenance window, cooldown and attempts, audit-only
 * policy, the kill switch and incidents. `createHealing` wires them for the agent loop.
 */
import type { Catalog } from "#catalog";
import type { AgentConfig } from "../config.ts";
import type { HealingEnv, HealingHooks } from "../deps.ts";
import type { Clock, Host } from "../ports.ts";
import type { OneCheckRunner } from "./actions/index.ts";
import { healDrift } from "./healer.ts";
import { healingState } from "./healing-state.ts";
import { createL1Engine, type L1Engine } from "./l1-engine.ts";
import type { L1RuleSource } from "./l1-rule-source.ts";
import { orderExecutor } from "./order-executor.ts";
import { effectivePolicy } from "./policy.ts";

export { inMaintenanceWindow } from "#catalog";
export { type AttemptLedger, attemptLedger } from "./attempts.ts";
export { buildIncident, OUTBOX_INCIDENT } from "./incidents.ts";
export { CONTROL_RUNBOOKS, PAUSE_HEALING, RESUME_HEALING } from "./kill-switch.ts";
export { catalogL1Rules, createL1Engine, type L1Engine } from "./l1-engine.ts";
export type { L1Rule, L1RuleSource } from "./l1-rule-source.ts";
export { type RunOutcome, runRunbook } from "./runbook-runner.ts";

export interface HealingOptions {
  readonly catalog: Pick<Catalog, "baseline" | "runbooks">;
  readonly config: Pick<AgentConfig, "host" | "healing" | "step_timeout_s">;
  /** The host the runbooks act on (routed through the privileged helper on a real appliance). */
  readonly host: Host;
  readonly checks: OneCheckRunner;
  readonly clock: Clock;
  readonly rules?: L1RuleSource;
  /** Built once and shared, so a bench can time matches on the very index the agent uses. */
  readonly engine?: L1Engine;
}

export function createHealing(options: HealingOptions): (env: HealingEnv) => HealingHooks {
  const { catalog, config } = options;
  const engine = options.engine ?? createL1Engine(catalog.runbooks, options.rules);
  const runner = {
    host: options.host,
    checks: options.checks,
    clock: options.clock,
    expected: config.host,
    baseline: catalog.baseline,
    stepTimeoutMs: config.step_timeout_s * 1000,
  };
  return (env) => {
    const state = healingState(env.journal, options.clock);
    const policy = effectivePolicy(config.healing, env.settings.healing);
    return {
      mode: () => (state.killSwitch.paused() ? "paused" : policy.audit ? "audit" : "enforce"),
      executor: orderExecutor({
        clock: options.clock,
        runbooks: catalog.runbooks,
        policy,
        runner,
        state,
      }),
      afterChecks: (sealed, signal) =>
        healDrift(
          {
            journal: env.journal,
            identity: env.identity,
            clock: options.clock,
            runbooks: catalog.runbooks,
            baseline: catalog.baseline,
            engine,
            policy,
            runner,
          },
          state,
          sealed,
          signal,
        ),
    };
  };
}
