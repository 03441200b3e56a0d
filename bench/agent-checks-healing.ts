/**
 * >>> HEALING BENCH SECTIONS GO HERE (branch healing) <<<
 *
 * bench/agent-checks.ts runs every section listed below after its own and prints each result
 * under `healing.<name>` in the same JSON. The issue asks for two: the L1 match time (a rule
 * lookup per check id and finding kind, well under 1 ms) and heal-and-verify time per runbook
 * on the lab host (inject drift, heal, re-run the check). Each section receives a fresh clean
 * lab world and the bare exec round-trip measured in the same run, so its figures can be given
 * as ratios against it, as the other figures are.
 */
import type { LabCheckWorld } from "../agent/src/checks/testing.ts";

export interface BenchContext {
  /** A fresh clean lab host, its runner and `run(checkId)`. */
  readonly world: () => Promise<LabCheckWorld>;
  /** Median of one bare `true` exec through the Linux adapter, in ms (same run). */
  readonly bareExecMs: number;
}

export interface BenchSection {
  readonly name: string;
  run(context: BenchContext): Promise<Record<string, unknown>>;
}

export const HEALING_SECTIONS: readonly BenchSection[] = [];
