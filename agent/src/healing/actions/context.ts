import type { Baseline, DriftCheckId } from "#catalog";
import type { EvidenceEvent, Finding } from "#protocol";
import type { ExpectedHost } from "../../config.ts";
import type { CheckResultEvent, ExecResult, Host } from "../../ports.ts";

/** Runs one drift check on demand (the check runner's runOne). */
export interface OneCheckRunner {
  runOne(id: DriftCheckId, signal: AbortSignal): Promise<CheckResultEvent>;
}

/** What one runbook run remembers between its steps (nixos.rollback needs the switch's start). */
export interface RunMemory {
  /** The system that ran when this run's first switch started. */
  systemBefore?: string;
  /** True while a switch of this run is in effect (nixos.rollback then has work to do). */
  switched: boolean;
}

export interface ActionContext {
  readonly host: Host;
  readonly checks: OneCheckRunner;
  readonly expected: ExpectedHost;
  readonly baseline: Pick<Baseline, "allowed_units">;
  readonly runbookId: string;
  readonly signal: AbortSignal;
  /** Time left for this step (the step timeout, capped by the runbook's own timeout). */
  readonly timeoutMs: number;
  readonly memory: RunMemory;
  record(event: EvidenceEvent): void;
}

export interface StepResult {
  readonly ok: boolean;
  /** A short reason for a failure, free of file contents and log lines. */
  readonly detail?: string;
  readonly findings?: readonly Finding[];
}

export type ActionParams = Readonly<Record<string, string | number | boolean>>;
export type ActionImpl = (params: ActionParams, ctx: ActionContext) => Promise<StepResult>;

const MAX_OUTPUT = 64 * 1024;

export async function exec(
  ctx: ActionContext,
  argv: readonly [string, ...string[]],
  stdin?: string,
): Promise<ExecResult> {
  return ctx.host.exec({
    argv,
    timeoutMs: ctx.timeoutMs,
    maxOutputBytes: MAX_OUTPUT,
    signal: ctx.signal,
    ...(stdin === undefined ? {} : { stdin }),
  });
}

/** Success when the program exited 0; otherwise a reason naming the program, never its output. */
export function exitedOk(result: ExecResult, argv: readonly string[]): StepResult {
  const program = argv.slice(0, 2).join(" ");
  switch (result.kind) {
    case "exited":
      return result.code === 0
        ? { ok: true }
        : { ok: false, detail: `${program} exited with code ${result.code}` };
    case "timed_out":
      return { ok: false, detail: `${program} timed out` };
    case "not_found":
      return { ok: false, detail: `${argv[0]} is not installed` };
    case "failed":
      return { ok: false, detail: `${program} could not run: ${result.message.slice(0, 200)}` };
  }
}

/** Runs argv and reports success when it exited 0. */
export async function runOk(
  ctx: ActionContext,
  argv: readonly [string, ...string[]],
  stdin?: string,
): Promise<StepResult> {
  return exitedOk(await exec(ctx, argv, stdin), argv);
}
