/**
 * bench/agent-core: the agent's evidence throughput and memory. Prints one JSON object.
 *   npm run bench:agent      (BENCH_NODE_FLAGS="--max-semi-space-size=1" to compare flags)
 *
 * - appends/s: sign + chain + durable SQLite write (WAL, synchronous=FULL), batched in
 *   transactions of 100 and one event per transaction;
 * - memory (RSS and the Anonymous line of /proc/<pid>/smaps_rollup) of the agent run as a
 *   bundled child process with deliberate V8 flags: idle, after a simulated 24-hour outage
 *   (1,440 cycles of six check results each, accelerated clock) against a test control plane
 *   on loopback HTTPS with mTLS that drops every connection, and after the full flush;
 * - the flush rate (bundles pushed and receipted per second);
 * - the real bundle (agent/dist/agent.mjs built fresh) idle after its first cycle.
 * Machines here are noisy and shared: compare within one run, not across runs.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createSigner, generateEd25519KeyPair } from "#protocol";
import { openJournal } from "../agent/src/index.ts";
import { createAgentWorld } from "../agent/src/testing/fixture.ts";
import {
  type AgentRuntime,
  agentRuntime,
  parseRuntimeName,
  runtimeVersion,
} from "../scripts/agent-runtime.ts";
import { buildAgent, bundleAgentEntry } from "../scripts/build-agent.ts";

/**
 * Both runtimes by default (BENCH_RUNTIMES=node or bun for one; bun-jit is Bun without
 * AGENT_BUN_ENV, with JavaScriptCore's JIT, as a baseline); BENCH_NODE_FLAGS overrides.
 */
const RUNTIMES = (process.env.BENCH_RUNTIMES ?? "node,bun,bun-jit").split(",").map((raw) => {
  const name = raw.trim();
  if (name === "bun-jit") return { label: name, runtime: { ...agentRuntime("bun"), env: {} } };
  const runtime = agentRuntime(parseRuntimeName(name));
  return {
    label: name,
    runtime:
      runtime.name === "node" && process.env.BENCH_NODE_FLAGS
        ? { ...runtime, flags: process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean) }
        : runtime,
  };
});
/** The goal for the agent's peak RSS over the 24 h outage scenario, and its stretch. */
const GOAL_PEAK_RSS_MIB = 50;
const STRETCH_PEAK_RSS_MIB = 35;
const dir = mkdtempSync(join(tmpdir(), "bench-agent-"));
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const event = (n: number) => ({
  kind: "check_result" as const,
  check_id: "services",
  status: "drift" as const,
  severity: "high" as const,
  findings: [
    {
      code: "unit_inactive",
      subject: `unit-${n % 50}.service`,
      expected: "active",
      observed: "failed",
    },
  ],
  duration_ms: 4,
});

function appendRate(batch: number, total: number): number {
  const journal = openJournal(
    join(dir, `rate-${batch}.sqlite`),
    ids,
    createSigner(generateEd25519KeyPair().privateKey),
  );
  const start = performance.now();
  for (let done = 0; done < total; done += batch) {
    journal.append(
      Array.from({ length: batch }, (_, i) => event(done + i)),
      new Date(),
    );
  }
  const rate = total / ((performance.now() - start) / 1000);
  journal.close();
  return Math.round(rate);
}

function procMemory(pid: number) {
  const kib = (text: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "0");
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return {
    rss_mib: +(kib(status, "VmRSS") / 1024).toFixed(1),
    peak_rss_mib: +(kib(status, "VmHWM") / 1024).toFixed(1),
    anonymous_mib: +(
      kib(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Anonymous") / 1024
    ).toFixed(1),
  };
}

async function outageRun(runtime: AgentRuntime) {
  const world = await createAgentWorld({
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 500 },
  });
  const childFile = join(dir, "agent-core-child.mjs");
  await bundleAgentEntry(join(import.meta.dirname, "agent-core-child.ts"), childFile);
  const child = spawn(
    runtime.command,
    [...runtime.flags, childFile, world.configPath, world.config.ca_bundle_path],
    { env: { ...process.env, ...runtime.env }, stdio: ["pipe", "pipe", "inherit"] },
  );
  let result: unknown;
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line) as { phase?: string; result?: unknown };
    if (message.phase === "outage") world.cp.available = false;
    if (message.phase === "recover") world.cp.available = true;
    if (message.phase) child.stdin.write("go\n");
    if (message.result) result = message.result;
  }
  const receivedInOrder = world.cp.bundles.every((b, i) => b.seq === i + 1);
  await world.cleanup();
  return {
    ...(result as object),
    control_plane_received: world.cp.bundles.length,
    received_in_order: receivedInOrder,
  };
}

/** Starts the real bundle, waits for its first cycle and a quiet moment, measures, stops it. */
async function runBundleOnce(
  runtime: AgentRuntime,
  bundle: string,
  configPath: string,
  statusPath: string,
) {
  const spawnedAt = performance.now();
  const child = spawn(runtime.command, [...runtime.flags, bundle, "--config", configPath], {
    env: { ...process.env, ...runtime.env },
    stdio: "ignore",
  });
  const startedAt = existsSync(statusPath)
    ? JSON.parse(readFileSync(statusPath, "utf8")).cycles
    : -1;
  for (let i = 0; i < 600; i++) {
    if (existsSync(statusPath)) {
      const status = JSON.parse(readFileSync(statusPath, "utf8"));
      if (status.pid === child.pid && status.cycles >= 1 && startedAt !== null) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const firstCycleMs = Math.round(performance.now() - spawnedAt);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const memory = procMemory(child.pid ?? 0);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  return {
    start_to_first_cycle_ms: firstCycleMs,
    ...memory,
    exit_code_after_sigterm: await exited,
  };
}

async function realBundleIdle(runtime: AgentRuntime, bundle: string) {
  const world = await createAgentWorld();
  const statusPath = join(world.config.state_dir, "status.json");
  // First start enrolls (and so loads the x509 code); a restart is the steady state.
  const firstStart = await runBundleOnce(runtime, bundle, world.configPath, statusPath);
  const restart = await runBundleOnce(runtime, bundle, world.configPath, statusPath);
  await world.cleanup();
  return { first_start_with_enrollment: firstStart, restart_enrolled: restart };
}

/**
 * The runtime the appliance's Nix package runs (nix/package.nix's default `runtime`, what
 * packages.compliance-agent builds), with its peak if measured.
 */
function shippedRuntime(sideBySide: Record<string, object>) {
  const pkg = readFileSync(join(import.meta.dirname, "..", "nix", "package.nix"), "utf8");
  const runtime = pkg.match(/^\s*runtime \? "(bun|node)",$/m)?.[1];
  if (runtime === undefined) throw new Error("nix/package.nix: no default runtime found");
  const row = sideBySide[runtime] as { peak_rss_mib?: number } | undefined;
  return {
    runtime,
    peak_rss_mib: row?.peak_rss_mib ?? null,
    over_goal_mib: row?.peak_rss_mib
      ? +Math.max(0, row.peak_rss_mib - GOAL_PEAK_RSS_MIB).toFixed(1)
      : null,
  };
}

type Outage = Record<
  "idle" | "after_outage" | "after_flush" | "after_flush_idle",
  { rss_mib: number; peak_rss_mib: number; anonymous_mib: number }
> & {
  healthy_hour: { cpu_ms_per_cycle: number; tls_handshakes: number };
  after_outage: { cpu_ms_per_cycle: number };
};

try {
  const bundle = join(dir, "agent.mjs");
  await buildAgent(bundle);
  const runs: Record<string, object> = {};
  const sideBySide: Record<string, object> = {};
  for (const { label, runtime } of RUNTIMES) {
    const outage = (await outageRun(runtime)) as unknown as Outage;
    const real = await realBundleIdle(runtime, bundle);
    runs[label] = {
      version: runtimeVersion(runtime),
      flags: runtime.flags,
      env: runtime.env,
      outage_24h: outage,
      real_bundle_idle: real,
    };
    sideBySide[label] = {
      idle_rss_mib: outage.idle.rss_mib,
      idle_anonymous_mib: outage.idle.anonymous_mib,
      after_24h_outage_rss_mib: outage.after_outage.rss_mib,
      after_24h_outage_anonymous_mib: outage.after_outage.anonymous_mib,
      after_flush_rss_mib: outage.after_flush_idle.rss_mib,
      after_flush_anonymous_mib: outage.after_flush_idle.anonymous_mib,
      peak_rss_mib: outage.after_flush_idle.peak_rss_mib,
      cpu_ms_per_cycle_healthy: outage.healthy_hour.cpu_ms_per_cycle,
      cpu_ms_per_cycle_outage: outage.after_outage.cpu_ms_per_cycle,
      tls_handshakes_per_hour_healthy: outage.healthy_hour.tls_handshakes,
      real_bundle_start_to_first_cycle_ms: real.restart_enrolled.start_to_first_cycle_ms,
      real_bundle_idle_rss_mib: real.restart_enrolled.rss_mib,
      real_bundle_peak_rss_mib: Math.max(
        real.first_start_with_enrollment.peak_rss_mib,
        real.restart_enrolled.peak_rss_mib,
      ),
    };
  }
  // The baseline configuration (bun-jit) is not a candidate to ship.
  const candidates = Object.entries(sideBySide).filter(([name]) => name !== "bun-jit");
  const peaks = candidates.map(([name, row]) => ({
    name,
    peak: (row as { peak_rss_mib: number }).peak_rss_mib,
  }));
  const lowest = peaks.reduce((a, b) => (b.peak < a.peak ? b : a));
  const result = {
    bench: "agent-core",
    node: process.version,
    cpus: cpus().length,
    appends_per_s: { batch_100: appendRate(100, 20_000), batch_1: appendRate(1, 500) },
    side_by_side: sideBySide,
    lower_peak_runtime: {
      runtime: lowest.name,
      peak_rss_mib: lowest.peak,
      goal_mib: GOAL_PEAK_RSS_MIB,
      goal_met: lowest.peak < GOAL_PEAK_RSS_MIB,
      over_goal_mib: +Math.max(0, lowest.peak - GOAL_PEAK_RSS_MIB).toFixed(1),
      stretch_mib: STRETCH_PEAK_RSS_MIB,
      stretch_met: lowest.peak < STRETCH_PEAK_RSS_MIB,
    },
    shipped_runtime: shippedRuntime(sideBySide),
    runtimes: runs,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
