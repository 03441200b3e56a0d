import type { z } from "zod";
import {
  ACTIONS,
  actionParamsSchema,
  type Baseline,
  durationMs,
  isActionName,
  isParamRef,
  type Runbook,
  type Step,
} from "#catalog";
import type { EvidenceEvent, Finding, OrderParams, Tier } from "#protocol";
import type { ExpectedHost } from "../config.ts";
import { describeError } from "../log.ts";
import type { Clock, Host } from "../ports.ts";
import {
  ACTION_IMPLEMENTATIONS,
  type ActionContext,
  type OneCheckRunner,
  type RunMemory,
  type StepResult,
} from "./actions/index.ts";

/**
 * Runs one runbook: preconditions, then steps, then verification; a failed step or a failed
 * verification runs the rollback. Every step is a healing_step bundle. Steps are catalog actions
 * only, with params resolved from the run's params and parsed with the action's strict schema
 * before anything runs; the runbook's timeout bounds the whole run.
 *
 * Outcomes: succeeded (verified), precondition_failed (nothing was changed), rolled_back (a step
 * or the verification failed and the rollback ran cleanly), failed (and the rollback, if any,
 * did not complete: a person must look).
 */
export type RunOutcome = "succeeded" | "precondition_failed" | "rolled_back" | "failed";

export interface RunRequest {
  readonly runbook: Runbook;
  readonly params: z.infer<typeof OrderParams>;
  readonly tier: Tier;
  readonly orderId?: string;
  readonly incidentId?: string;
}

export interface RunnerDeps {
  readonly host: Host;
  readonly checks: OneCheckRunner;
  readonly clock: Clock;
  readonly expected: ExpectedHost;
  readonly baseline: Pick<Baseline, "allowed_units">;
  readonly stepTimeoutMs: number;
}

export interface RunReport {
  readonly outcome: RunOutcome;
  readonly detail: string;
}

type Phase = Extract<EvidenceEvent, { kind: "healing_step" }>["phase"];

export async function runRunbook(
  request: RunRequest,
  deps: RunnerDeps,
  record: (event: EvidenceEvent) => void,
  signal: AbortSignal,
): Promise<RunReport> {
  const { runbook } = request;
  const deadline = deps.clock.now().getTime() + durationMs(runbook.timeout);
  const memory: RunMemory = { switched: false };
  const runSignal = AbortSignal.any([signal, AbortSignal.timeout(durationMs(runbook.timeout))]);
  let index = 0;
  // The rollback is never cut short by the runbook's timeout, only by the agent stopping.
  let undoing = false;

  const runPhase = async (phase: Phase, steps: readonly Step[]): Promise<StepResult> => {
    for (const step of steps) {
      const result = await runStep(step, phase, index++);
      if (!result.ok) return { ...result, detail: `${step.action}: ${result.detail ?? "failed"}` };
    }
    return { ok: true };
  };

  const runStep = async (step: Step, phase: Phase, stepIndex: number): Promise<StepResult> => {
    const started = deps.clock.now().getTime();
    let result: StepResult;
    try {
      result = await perform(step);
    } catch (error) {
      result = { ok: false, detail: `could not run: ${describeError(error).slice(0, 200)}` };
    }
    const findings: Finding[] = [...(result.findings ?? [])].slice(0, 63);
    if (!result.ok) {
      findings.push({ code: "step_failed", message: (result.detail ?? "failed").slice(0, 500) });
    }
    record({
      kind: "healing_step",
      runbook_id: runbook.id,
      runbook_version: runbook.version,
      tier: request.tier,
      ...(request.orderId ? { order_id: request.orderId } : {}),
      ...(request.incidentId ? { incident_id: request.incidentId } : {}),
      step: stepIndex,
      action: step.action,
      phase,
      outcome: result.ok ? "succeeded" : "failed",
      duration_ms: Math.max(0, deps.clock.now().getTime() - started),
      findings,
    });
    return result;
  };

  const perform = async (step: Step): Promise<StepResult> => {
    const stepSignal = undoing ? signal : runSignal;
    if (stepSignal.aborted) return { ok: false, detail: "the runbook's timeout ran out" };
    if (!isActionName(step.action)) return { ok: false, detail: "not an allowlisted action" };
    const resolved: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(step.params ?? {})) {
      resolved[name] = isParamRef(value) ? request.params[value.param] : value;
    }
    const parsed = actionParamsSchema(step.action).safeParse(resolved);
    if (!parsed.success) return { ok: false, detail: "invalid params for the action" };
    const context: ActionContext = {
      host: deps.host,
      checks: deps.checks,
      expected: deps.expected,
      baseline: deps.baseline,
      runbookId: runbook.id,
      signal: stepSignal,
      timeoutMs: undoing
        ? deps.stepTimeoutMs
        : Math.max(1, Math.min(deps.stepTimeoutMs, deadline - deps.clock.now().getTime())),
      memory,
      record,
    };
    const params = parsed.data as Record<string, string | number | boolean>;
    return ACTION_IMPLEMENTATIONS[step.action](params, context);
  };

  const pre = await runPhase("precondition", runbook.preconditions);
  if (!pre.ok) return { outcome: "precondition_failed", detail: pre.detail ?? "precondition" };
  const steps = await runPhase("step", runbook.steps);
  const verified = steps.ok ? await runPhase("verify", runbook.verification) : undefined;
  if (steps.ok && verified?.ok) return { outcome: "succeeded", detail: "healed and verified" };

  const why = (steps.ok ? verified?.detail : steps.detail) ?? "failed";
  if (runbook.rollback.length === 0 && !memory.switched) {
    return { outcome: "failed", detail: why };
  }
  undoing = true;
  const undo = await runRollback(runbook.rollback, index, runStep, memory);
  return undo.ok
    ? { outcome: "rolled_back", detail: `${why}; rolled back` }
    : { outcome: "failed", detail: `${why}; rollback failed: ${undo.detail ?? ""}`.slice(0, 500) };
}

async function runRollback(
  steps: readonly Step[],
  first: number,
  runStep: (step: Step, phase: Phase, index: number) => Promise<StepResult>,
  memory: RunMemory,
): Promise<StepResult> {
  let index = first;
  let failed: StepResult | undefined;
  for (const step of steps) {
    // Every rollback step runs, even after one failed: an alert must still be raised.
    const result = await runStep(step, "rollback", index++);
    if (!result.ok && failed === undefined) failed = result;
  }
  // A switch still in effect with no nixos.rollback step to undo it is partial state.
  if (memory.switched && !steps.some((s) => s.action === "nixos.rollback")) {
    const undo = await runStep({ action: "nixos.rollback" }, "rollback", index);
    if (!undo.ok && failed === undefined) failed = undo;
  }
  return failed ?? { ok: true };
}

export const changesHost = (runbook: Runbook): boolean =>
  [...runbook.steps, ...runbook.rollback].some(
    (s) => isActionName(s.action) && ACTIONS[s.action].effect === "changes_host",
  );
