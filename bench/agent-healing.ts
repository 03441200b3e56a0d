/**
 * bench/agent-healing: the healer's figures on the lab appliance. Prints one JSON object.
 *   npm run bench:agent-healing        (BENCH_ROUNDS=9 for more rounds per runbook)
 *
 * - L1 match: one lookup of (check id, finding kind) in the engine's precomputed index, over
 *   every declared finding of the six checks (matched and unmatched), with the catalog's rules
 *   alone and with 500 extra flywheel rules; the baseline is a bare Map.get on the same keys in
 *   the same run (the ratio is the engine's overhead).
 * - heal-and-verify, per runbook of runbooks/: its drift injected on a clean lab appliance (the
 *   scenarios of the healing tests), then the time from handing the check results to the healer
 *   until it returns: decision, every step through the Host port, verification re-running the
 *   checks, evidence committed to a real journal (SQLite WAL, synchronous=FULL). L2/L3-only
 *   runbooks run through the order executor. Baseline: one full round of the six checks on a
 *   clean lab appliance in the same run. Median of BENCH_ROUNDS rounds.
 * Machines here are noisy and shared: compare within one run, not across runs.
 */
import { cpus } from "node:os";
import { join } from "node:path";
import { DRIFT_CHECKS, type DriftCheckId, loadCatalog } from "#catalog";
import { createL1Engine } from "../agent/src/healing/l1-engine.ts";
import type { L1Rule } from "../agent/src/healing/l1-rule-source.ts";
import { HEALING_SCENARIOS } from "../agent/src/testing/healing-drift.ts";
import { createHealingLab } from "../agent/src/testing/healing-lab.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? "5");
const root = join(import.meta.dirname, "..");
const catalog = await loadCatalog(root);

const keys = (
  Object.entries(DRIFT_CHECKS) as [DriftCheckId, { findings: readonly string[] }][]
).flatMap(([check, spec]) => spec.findings.map((finding) => [check, finding] as const));

function nsPerOp(op: (i: number) => unknown, iterations: number): number {
  let sink = 0;
  for (let i = 0; i < 10_000; i++) if (op(i)) sink++; // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (op(i)) sink++;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  if (sink < 0) console.log(sink);
  return Math.round(ns * 10) / 10;
}

function l1Match() {
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
  const baseline = nsPerOp((i) => {
    const [c, f] = keys[i % n] as readonly [string, string];
    return bare.get(`${c}\u0000${f}`);
  }, iterations);
  const catalogOnly = nsPerOp((i) => {
    const [c, f] = keys[i % n] as readonly [DriftCheckId, string];
    return engine.match(c, f);
  }, iterations);
  const flywheel = nsPerOp((i) => {
    const [c, f] = keys[i % n] as readonly [DriftCheckId, string];
    return withFlywheel.match(c, f);
  }, iterations);
  return {
    keys: n,
    catalog_rules: engine.rules().length,
    ns_per_match: catalogOnly,
    ns_per_match_with_500_flywheel_rules: flywheel,
    baseline_map_get_ns: baseline,
    ratio_to_map_get: Math.round((catalogOnly / baseline) * 100) / 100,
    target_ms: 1,
    fraction_of_target: catalogOnly / 1_000_000,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] as number) * 100) / 100;
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

async function healOnce(
  runbookId: string,
): Promise<{ ms: number; outcome: string; steps: number }> {
  const scenario = HEALING_SCENARIOS[runbookId];
  if (!scenario) throw new Error(`no scenario for ${runbookId}`);
  const lab = createHealingLab({ mutate: scenario.mutate });
  try {
    const signal = new AbortController().signal;
    if (scenario.order) {
      const start = performance.now();
      const run = await lab.order(runbookId, scenario.order.params, scenario.order.tier);
      const ms = performance.now() - start;
      return {
        ms,
        outcome: run.outcome,
        steps: run.events.filter((e) => e.kind === "healing_step").length,
      };
    }
    const results = await lab.checks.runAll(signal);
    const sealed = lab.journal.append(results, lab.clock.now());
    const from = lab.journal.head().seq;
    const start = performance.now();
    await lab.healing.afterChecks(sealed, signal);
    const ms = performance.now() - start;
    const events = lab.journal.bundlesFrom(from + 1, 10_000).map((b) => b.bundle.event);
    const attempt = events.find((e) => e.kind === "healing_attempt" && e.runbook_id === runbookId);
    return {
      ms,
      outcome: attempt?.kind === "healing_attempt" ? attempt.outcome : "none",
      steps: events.filter((e) => e.kind === "healing_step").length,
    };
  } finally {
    lab.close();
  }
}

const match = l1Match();
const baselineRounds: number[] = [];
for (let i = 0; i < ROUNDS; i++) baselineRounds.push(await checksRound());
const baselineMs = median(baselineRounds);
const runbooks: Record<string, unknown> = {};
for (const id of Object.keys(HEALING_SCENARIOS).sort()) {
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await healOnce(id));
  const ms = median(rounds.map((r) => r.ms));
  runbooks[id] = {
    path: HEALING_SCENARIOS[id]?.order ? `order (${HEALING_SCENARIOS[id]?.order?.tier})` : "L1",
    outcome: rounds[0]?.outcome,
    healing_steps: rounds[0]?.steps,
    heal_and_verify_ms: ms,
    ratio_to_six_checks: Math.round((ms / baselineMs) * 100) / 100,
  };
}

console.log(
  JSON.stringify(
    {
      bench: "agent-healing",
      node: process.version,
      cpus: cpus().length,
      rounds: ROUNDS,
      l1_match: match,
      baseline_six_checks_clean_lab_ms: baselineMs,
      runbooks,
    },
    null,
    2,
  ),
);
