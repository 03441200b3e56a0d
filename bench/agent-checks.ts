/**
 * bench/agent-checks: the six drift checks on the lab host. Prints one JSON object.
 *   npm run bench:agent-checks      (BENCH_CYCLES=500 for more samples)
 *
 * - baseline, measured in the same run: one bare exec round-trip through the real Linux
 *   adapter (spawn `true`, wait for exit), and one emulated program call on the lab host;
 * - one full cycle of all six checks on a clean lab host (run concurrently, as the agent does):
 *   the first, cold cycle, then the median and p95 over BENCH_CYCLES cycles, as ms and as
 *   ratios to the bare exec and to the plan's 10 s target for all six; and each check run
 *   alone (median, p95), its own cost;
 * - false positives: how many of 1,000 clean cycles gave anything but six passes;
 * - the healer's sections (bench/agent-checks-healing.ts) under `healing`.
 * The lab's programs are in-process emulators, so these figures are the agent's own overhead
 * (parsing, canonicalising, evidence shaping); a real appliance adds each tool's run time.
 * Machines here are noisy and shared: compare within one run, not across runs.
 */
import { cpus } from "node:os";
import { DRIFT_CHECK_IDS } from "#catalog";
import { instantClock, labCheckWorld } from "../agent/src/checks/testing.ts";
import { cleanLabState, createLabHost } from "../agent/src/host/lab/index.ts";
import { linuxHost } from "../agent/src/host/linux.ts";
import { acceleratedClock } from "../agent/src/ports.ts";
import { HEALING_SECTIONS } from "./agent-checks-healing.ts";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 200);
const TARGET_MS = 10_000;
const signal = new AbortController().signal;

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function timed(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

// Baseline: a bare process round-trip on this machine, and one emulated call on the lab host.
const bareExec = await timed(async () => {
  const r = await linuxHost.exec({ argv: ["true"], timeoutMs: 5000, maxOutputBytes: 1024 });
  if (r.kind !== "exited" || r.code !== 0) throw new Error(`true: ${JSON.stringify(r)}`);
}, 50);
const lab = createLabHost({ state: cleanLabState(new Date()) });
const labExec = await timed(async () => {
  await lab.exec({ argv: ["nixos-version", "--json"], timeoutMs: 5000, maxOutputBytes: 1024 });
}, 500);
const bareExecMs = median(bareExec);

// One full cycle (the six run concurrently, as the agent runs them), cold then warm; then each
// check alone, so its own cost is not mixed with the others' turns on the event loop.
const world = await labCheckWorld({ clock: instantClock });
const totals: number[] = [];
let first: { total_ms: number; per_check_ms: Record<string, number> } | undefined;
for (let cycle = 0; cycle <= CYCLES; cycle++) {
  const t = performance.now();
  const results = await world.runner.runAll(signal);
  const total = performance.now() - t;
  if (results.some((r) => r.status !== "pass")) {
    throw new Error(`cycle ${cycle} on a clean lab host did not pass`);
  }
  if (cycle === 0) {
    first = {
      total_ms: round(total),
      per_check_ms: Object.fromEntries(results.map((r) => [r.check_id, round(r.duration_ms)])),
    };
  } else {
    totals.push(total);
  }
}
const cycleMs = median(totals);
const perCheck: Record<string, number[]> = {};
for (const id of DRIFT_CHECK_IDS) {
  perCheck[id] = await timed(() => world.run(id), CYCLES);
}

// False positives over 1,000 clean cycles, the agent's clock moving 10 s per cycle.
const fpClock = acceleratedClock(new Date());
const fpWorld = await labCheckWorld({ clock: fpClock });
let falsePositives = 0;
for (let cycle = 0; cycle < 1000; cycle++) {
  const results = await fpWorld.runner.runAll(signal);
  falsePositives += results.filter((r) => r.status !== "pass").length;
  fpClock.advance(10_000);
}

const healing: Record<string, unknown> = {};
for (const section of HEALING_SECTIONS) {
  healing[section.name] = await section.run({
    world: () => labCheckWorld({ clock: instantClock }),
    bareExecMs,
  });
}

process.stdout.write(
  `${JSON.stringify(
    {
      bench: "agent-checks",
      node: process.version,
      cpus: cpus().length,
      cycles: CYCLES,
      baseline: {
        bare_exec_roundtrip_ms: { median: round(bareExecMs), p95: round(quantile(bareExec, 0.95)) },
        lab_program_call_ms: { median: round(median(labExec), 4) },
      },
      first_cycle: first,
      cycle: {
        total_ms: { median: round(cycleMs), p95: round(quantile(totals, 0.95)) },
        per_check_alone_ms: Object.fromEntries(
          DRIFT_CHECK_IDS.map((id) => [
            id,
            {
              median: round(median(perCheck[id] ?? [])),
              p95: round(quantile(perCheck[id] ?? [], 0.95)),
            },
          ]),
        ),
        ratio_to_bare_exec: round(cycleMs / bareExecMs, 2),
        share_of_10s_target: round(cycleMs / TARGET_MS, 6),
      },
      false_positives: { clean_cycles: 1000, checks_run: 6000, not_pass: falsePositives },
      healing,
    },
    null,
    2,
  )}\n`,
);
