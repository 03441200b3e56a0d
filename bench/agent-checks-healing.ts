/**
 * The healing sections of bench/agent-checks. bench/agent-checks.ts runs each
 * after its own and prints the result under `healing.<name>`.
 *
 * - l1_match: one lookup of (check id, finding kind) in the engine's precomputed index, over
 *   every declared finding of the six checks (matched and unmatched), with the catalog's rules
 *   alone and with 500 extra flywheel rules; the baseline is a bare Map.get on the same keys in
 *   the same run (the ratio is the engine's overhead).
 * - heal_and_verify: per runbook of runbooks/, its drift injected on a clean lab appliance (the
 *   scenarios of the healing tests), then the time from handing the check results to the healer
 *   until it returns: decision, every step through the Host port, verification re-running the
 *   checks, evidence committed to a real journal (SQLite WAL, synchronous=FULL). L2/L3-only
 *   runbooks run through the order executor. Ratios against the bare exec round-trip and one
 *   round of the six checks on a clean lab appliance, both measured in the same run. Median of
 *   BENCH_HEAL_ROUNDS rounds (default 5).
 */
import { join } from "node:path";
import { DRIFT_CHECKS, type DriftCheckId, loadCatalog } from "#catalog";
import type { LabCheckWorld } from "../agent/src/checks/testing.ts";
import { createL1Engine } from "../agent/src/healing/l1-engine.ts";
import type { L1Rule } from "../agent/src/healing/l1-rule-source.ts";
import { HEALING_SCENARIOS } from "../agent/src/testing/healing-drift.ts";
import { createHealingLab } from "../agent/src/testing/healing-lab.ts";

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

const ROUNDS = Number(process.env.BENCH_HEAL_ROUNDS ?? "5");
const catalog = await loadCatalog(join(import.meta.dirname, ".."));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function nsPerOp(op: (i: number) => unknown, iterations: number): number {
  let sink = 0;
  for (let i = 0; i < 10_000; i++) if (op(i)) sink++; // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (op(i)) sink++;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  if (sink < 0) process.stdout.write(String(sink));
  return round(ns, 1);
}

const l1Match: BenchSection = {
  name: "l1_match",
  async run() {
    const keys = (
      Object.entries(DRIFT_CHECKS) as [DriftCheckId, { findings: readonly string[] }][]
    ).flatMap(([check, spec]) => spec.findings.map((finding) => [check, finding] as const));
    const iterations = 2_000_000;
    const engine = createL1Engine(catalog.runbooks);
    const flywheelRules: L1Rule[] = Array.from({ length: 500 }, (_, i) => ({
      ruleId: `fw-${i}`,
      check: "services",
      finding: `synthetic_${i}`,
      runbookId: "RB-CPU-001-high",
      source: "flywheel",
      version: 1,
    }));
    const withFlywheel = createL1Engine(catalog.runbooks, { rules: () => flywheelRules });
    const bare = new Map(engine.rules().map((r) => [`${r.check}\u0000${r.finding}`, r]));
    const n = keys.length;
    const key = (i: number) => keys[i % n] as readonly [DriftCheckId, string];
    const baseline = nsPerOp((i) => bare.get(`${key(i)[0]}\u0000${key(i)[1]}`), iterations);
    const catalogOnly = nsPerOp((i) => engine.match(...key(i)), iterations);
    const flywheel = nsPerOp((i) => withFlywheel.match(...key(i)), iterations);
    return {
      keys: n,
      catalog_rules: engine.rules().length,
      ns_per_match: catalogOnly,
      ns_per_match_with_500_flywheel_rules: flywheel,
      baseline_map_get_ns: baseline,
      ratio_to_map_get: round(catalogOnly / baseline),
      share_of_1ms_target: round(catalogOnly / 1_000_000, 6),
    };
  },
};

async function checksRound(): Promise<number> {
  const lab = createHealingLab();
  try {
    const start = performance.now();
    await lab.checks.runAll(new AbortController().signal);
    return performance.now() - start;
  } finally {
    lab.close();
  }
}

async function healOnce(id: string): Promise<{ ms: number; outcome: string; steps: number }> {
  const scenario = HEALING_SCENARIOS[id];
  if (!scenario) throw new Error(`no scenario for ${id}`);
  const lab = createHealingLab({ mutate: scenario.mutate });
  try {
    const signal = new AbortController().signal;
    if (scenario.order) {
      const start = performance.now();
      const run = await lab.order(id, scenario.order.params, scenario.order.tier);
      const ms = performance.now() - start;
      const steps = run.events.filter((e) => e.kind === "healing_step").length;
      return { ms, outcome: run.outcome, steps };
    }
    const results = await lab.checks.runAll(signal);
    const sealed = lab.journal.append(results, lab.clock.now());
    const from = lab.journal.head().seq;
    const start = performance.now();
    await lab.healing.afterChecks(sealed, signal);
    const ms = performance.now() - start;
    const events = lab.journal.bundlesFrom(from + 1, 10_000).map((b) => b.bundle.event);
    const attempt = events.find((e) => e.kind === "healing_attempt" && e.runbook_id === id);
    return {
      ms,
      outcome: attempt?.kind === "healing_attempt" ? attempt.outcome : "none",
      steps: events.filter((e) => e.kind === "healing_step").length,
    };
  } finally {
    lab.close();
  }
}

const healAndVerify: BenchSection = {
  name: "heal_and_verify",
  async run({ bareExecMs }) {
    const checks: number[] = [];
    for (let i = 0; i < ROUNDS; i++) checks.push(await checksRound());
    const checksMs = median(checks);
    const runbooks: Record<string, unknown> = {};
    for (const id of Object.keys(HEALING_SCENARIOS).sort()) {
      const rounds = [];
      for (let i = 0; i < ROUNDS; i++) rounds.push(await healOnce(id));
      const ms = median(rounds.map((r) => r.ms));
      const order = HEALING_SCENARIOS[id]?.order;
      runbooks[id] = {
        path: order ? `order (${order.tier})` : "L1",
        outcome: rounds[0]?.outcome,
        healing_steps: rounds[0]?.steps,
        median_ms: round(ms),
        ratio_to_six_checks: round(ms / checksMs),
        ratio_to_bare_exec: round(ms / bareExecMs),
      };
    }
    return { rounds: ROUNDS, six_checks_clean_lab_ms: round(checksMs), runbooks };
  },
};

export const HEALING_SECTIONS: readonly BenchSection[] = [l1Match, healAndVerify];
