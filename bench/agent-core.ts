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
import { AGENT_NODE_FLAGS, buildAgent, bundleAgentEntry } from "../scripts/build-agent.ts";

const FLAGS = process.env.BENCH_NODE_FLAGS
  ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean)
  : [...AGENT_NODE_FLAGS];
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

async function outageRun() {
  const world = await createAgentWorld({
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 500 },
  });
  const childFile = join(dir, "agent-core-child.mjs");
  await bundleAgentEntry(join(import.meta.dirname, "agent-core-child.ts"), childFile);
  const child = spawn(
    process.execPath,
    [...FLAGS, childFile, world.configPath, world.config.ca_bundle_path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
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
async function runBundleOnce(bundle: string, configPath: string, statusPath: string) {
  const child = spawn(process.execPath, [...FLAGS, bundle, "--config", configPath], {
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const memory = procMemory(child.pid ?? 0);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  return { ...memory, exit_code_after_sigterm: await exited };
}

async function realBundleIdle() {
  const world = await createAgentWorld();
  const bundle = join(dir, "agent.mjs");
  await buildAgent(bundle);
  const statusPath = join(world.config.state_dir, "status.json");
  // First start enrolls (and so loads the x509 code); a restart is the steady state.
  const firstStart = await runBundleOnce(bundle, world.configPath, statusPath);
  const restart = await runBundleOnce(bundle, world.configPath, statusPath);
  await world.cleanup();
  return { first_start_with_enrollment: firstStart, restart_enrolled: restart };
}

try {
  const result = {
    bench: "agent-core",
    node: process.version,
    cpus: cpus().length,
    v8_flags: FLAGS,
    appends_per_s: { batch_100: appendRate(100, 20_000), batch_1: appendRate(1, 500) },
    outage_24h: await outageRun(),
    real_bundle_idle: await realBundleIdle(),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
