import type { Baseline, DRIFT_CHECKS, DriftCheckId } from "#catalog";
import type { Finding, Severity } from "#protocol";
import type { ExpectedHost } from "../config.ts";
import type { Host } from "../ports.ts";

/** Flat observed state: names and scalars only (no log lines, no file contents: no PHI). */
export type PreState = Record<string, string | number | boolean | null>;

/** A finding a check of id `Id` may report: its code is one the catalog declares for it. */
export type CheckFinding<Id extends DriftCheckId = DriftCheckId> = Finding & {
  readonly code: (typeof DRIFT_CHECKS)[Id]["findings"][number];
};

/**
 * What a check saw. `skipped`: it was not asked to look (no baseline, no configured facts).
 * `error`: it looked and could not see (tool missing, timed out, output it cannot parse). Only
 * `pass` says the thing is fine, and only a check that saw it may say so.
 */
export type CheckOutcome<Id extends DriftCheckId = DriftCheckId> =
  | { readonly status: "pass"; readonly state: PreState }
  | {
      readonly status: "drift";
      readonly findings: readonly [CheckFinding<Id>, ...CheckFinding<Id>[]];
      readonly state: PreState;
    }
  | { readonly status: "skipped"; readonly reason: string; readonly state?: PreState }
  | { readonly status: "error"; readonly reason: string; readonly state?: PreState };

export interface CheckContext {
  /** The baseline from catalog_dir; undefined when the agent has none (every check skips). */
  readonly baseline: Baseline | undefined;
  /** The appliance's own facts (config `host`). */
  readonly expected: ExpectedHost;
  /** Folder of test-restore records (<job>.json), written by the test-restore runbook. */
  readonly restoreTestDir: string;
  readonly now: () => Date;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal: AbortSignal;
  /** Cap for each tool the check runs; the runner's own timeout bounds the whole check. */
  readonly toolTimeoutMs: number;
}

/** One drift check: a typed contract object (`satisfies DriftCheck<"id">`). */
export interface DriftCheck<Id extends DriftCheckId = DriftCheckId> {
  readonly id: Id;
  readonly title: string;
  /** Citations of every baseline toggle that names this check (the conformance test checks). */
  readonly citations: readonly string[];
  /** The severity of a result that is not drift; drift takes its toggles' highest severity. */
  readonly severity: Severity;
  /** Every finding code this check can report; each is declared in catalog/drift-checks.ts. */
  readonly findings: readonly CheckFinding<Id>["code"][];
  run(host: Host, context: CheckContext): Promise<CheckOutcome<Id>>;
}

export const skipped = (reason: string, state?: PreState) =>
  ({ status: "skipped", reason, ...(state ? { state } : {}) }) as const;
export const failed = (reason: string, state?: PreState) =>
  ({ status: "error", reason, ...(state ? { state } : {}) }) as const;

/** pass when nothing was found, drift otherwise. */
export function verdict<Id extends DriftCheckId>(
  findings: CheckFinding<Id>[],
  state: PreState,
): CheckOutcome<Id> {
  const [first, ...rest] = findings;
  return first ? { status: "drift", findings: [first, ...rest], state } : { status: "pass", state };
}
