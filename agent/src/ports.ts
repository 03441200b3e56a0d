import type { EvidenceEvent, Order } from "#protocol";

/**
 * The agent sees the machine only through these ports; main.ts builds the real ones, tests and
 * the lab build their own (an accelerated clock, a simulated host).
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms` (or at once when `signal` aborts; never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** One program run as argv: never a shell string, always bounded in time and output. */
export interface ExecRequest {
  /** argv[0] is the program (looked up on PATH); every element is passed literally. */
  readonly argv: readonly [string, ...string[]];
  /** The whole process group is killed when this passes. */
  readonly timeoutMs: number;
  /** stdout and stderr are each capped at this many bytes; `truncated` says so. */
  readonly maxOutputBytes: number;
  readonly stdin?: string;
  readonly signal?: AbortSignal;
}

export type ExecResult =
  | {
      readonly kind: "exited";
      readonly code: number;
      readonly stdout: string;
      readonly stderr: string;
      readonly truncated: boolean;
    }
  | { readonly kind: "timed_out" }
  /** The program does not exist. */
  | { readonly kind: "not_found" }
  /** Could not start, was killed by a signal, or was aborted. */
  | { readonly kind: "failed"; readonly message: string };

export interface FileStat {
  readonly kind: "file" | "directory" | "symlink" | "other";
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
}

/**
 * The machine as the agent sees it. The real adapter is the Linux host (host/linux.ts); the lab
 * host (host/lab/) simulates a NixOS appliance whose programs print what the real tools print.
 */
export interface Host {
  /** Lower-case colon-separated MAC addresses of the physical interfaces. */
  macAddresses(): string[];
  hostname(): string;
  exec(request: ExecRequest): Promise<ExecResult>;
  /** At most `maxBytes` bytes as UTF-8; undefined when the file does not exist. */
  readFile(path: string, maxBytes: number): Promise<string | undefined>;
  /** lstat: a symlink is reported as a symlink; undefined when the path does not exist. */
  stat(path: string): Promise<FileStat | undefined>;
  /** The link's target; undefined when the path does not exist or is not a symlink. */
  readlink(path: string): Promise<string | undefined>;
}

/** A check result as evidence. */
export type CheckResultEvent = Extract<EvidenceEvent, { kind: "check_result" }>;

export interface CheckRunner {
  run(signal: AbortSignal): Promise<readonly CheckResultEvent[]>;
}

export type ExecutionOutcome = "succeeded" | "failed" | "rolled_back" | "deferred";

export interface ExecutionContext {
  readonly signal: AbortSignal;
  /** Records evidence (healing steps) durably before returning. */
  record(event: EvidenceEvent): void;
}

/** Runs one accepted order's runbook. */
export interface RunbookExecutor {
  execute(
    order: Order,
    context: ExecutionContext,
  ): Promise<{ outcome: ExecutionOutcome; detail?: string }>;
}

export interface RunbookAllowlist {
  has(runbookId: string): boolean;
  /** The runbook's own parameter check: a problem, or null when the params are valid. */
  checkParams?(runbookId: string, params: Order["params"]): string | null;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** A clock whose sleep advances time at once: for simulating a day of cycles in a test. */
export function acceleratedClock(start: Date): Clock & { advance(ms: number): void } {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
    sleep: async (ms) => {
      now += ms;
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

/** No checks: a cycle records nothing (tests of the loop alone). */
export const noChecks: CheckRunner = { run: async () => [] };

/** No executor: an accepted order fails honestly (tests of the loop alone). */
export const noExecutor: RunbookExecutor = {
  execute: async () => ({ outcome: "failed", detail: "no runbook engine in this build" }),
};
