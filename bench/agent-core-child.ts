/**
 * The agent side of bench/agent-core, bundled with esbuild like the real agent and run as a
 * child process with deliberate V8 flags. It runs the real runAgent with an accelerated clock
 * against the parent's test control plane, and reports its own memory at each phase. The parent
 * drives the outage: this process prints "phase <name>" and waits for a line on stdin.
 *   agent-core-child.mjs <config.json> <ca.pem>
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { cleanLabState, createLabHost } from "../agent/src/host/lab/index.ts";
import {
  acceleratedClock,
  type CheckRunner,
  type HttpsTransport,
  httpsTransport,
  jsonLogger,
  loadConfig,
  noExecutor,
  runAgent,
} from "../agent/src/index.ts";

const [configPath, caPath] = process.argv.slice(2);
if (!configPath || !caPath) throw new Error("usage: agent-core-child <config> <ca>");
const config = loadConfig(configPath, {});
const caPem = readFileSync(caPath, "utf8");
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const phase = async (name: string) => {
  say({ phase: name });
  await lines.next();
};

function memory() {
  const status = readFileSync("/proc/self/status", "utf8");
  const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  const kib = (text: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "0");
  return {
    rss_mib: +(kib(status, "VmRSS") / 1024).toFixed(1),
    peak_rss_mib: +(kib(status, "VmHWM") / 1024).toFixed(1),
    anonymous_mib: +(kib(rollup, "Anonymous") / 1024).toFixed(1),
    heap_used_mib: +(process.memoryUsage().heapUsed / 1048576).toFixed(1),
  };
}

// Six checks per cycle, as the agent runs them.
const CHECKS = ["patching", "services", "backups", "firewall", "logging", "encryption"];
const checks: CheckRunner = {
  run: async () =>
    CHECKS.map((check_id) => ({
      kind: "check_result" as const,
      check_id,
      status: "pass" as const,
      severity: "medium" as const,
      findings: [
        {
          code: "state_ok",
          subject: `${check_id}.service`,
          expected: "active",
          observed: "active",
        },
      ],
      duration_ms: 3,
    })),
};
const transports: HttpsTransport[] = [];
const clock = acceleratedClock(new Date("2026-11-25T00:00:00Z"));
const deps = (maxCycles: number) => ({
  config,
  agentVersion: "bench",
  clock,
  host: createLabHost({ state: { ...cleanLabState(new Date()), hostname: "bench-appliance" } }),
  log: jsonLogger(() => {}),
  transport: (client?: { keyPem: string; certPem: string }) => {
    const transport = httpsTransport({
      baseUrl: config.control_plane_url,
      caPem,
      ...(client ? { clientKeyPem: client.keyPem, clientCertPem: client.certPem } : {}),
      timeoutMs: 10_000,
    });
    transports.push(transport);
    return transport;
  },
  checks,
  executor: noExecutor,
  allowlist: new Set<string>(),
  random: Math.random,
  maxCycles,
});
const stop = new AbortController().signal;
const idleWait = () => new Promise((resolve) => setTimeout(resolve, 2000));

/** CPU milliseconds (user + system) per cycle of `cycles` cycles run by `run`. */
async function cpuPerCycle<T>(cycles: number, run: () => Promise<T>) {
  const before = process.cpuUsage();
  const value = await run();
  const used = process.cpuUsage(before);
  return { value, cpu_ms_per_cycle: +((used.user + used.system) / 1000 / cycles).toFixed(2) };
}
const handshakes = () => transports.reduce((sum, t) => sum + t.stats().handshakes, 0);

await runAgent(deps(5), stop);
// Healthy control plane: 60 cycles (an hour at 60 s polling) on one agent start.
const handshakesBefore = handshakes();
const healthy = await cpuPerCycle(60, () => runAgent(deps(60), stop));
const healthyHour = {
  cycles: healthy.value.cycles,
  cpu_ms_per_cycle: healthy.cpu_ms_per_cycle,
  tls_handshakes: handshakes() - handshakesBefore,
};
await idleWait();
const idle = memory();
await phase("outage");
const outageRun = await cpuPerCycle(1440, () => runAgent(deps(1440), stop));
let status = outageRun.value;
const outage = {
  cycles: status.cycles,
  backlog: status.backlog,
  cpu_ms_per_cycle: outageRun.cpu_ms_per_cycle,
  ...memory(),
};
await phase("recover");
const started = performance.now();
let flushed = 0;
for (let i = 0; i < 40 && status.backlog > 1; i++) {
  const before = status.receipted_seq;
  status = await runAgent(deps(1), stop);
  flushed += status.receipted_seq - before;
}
const seconds = (performance.now() - started) / 1000;
const afterFlush = memory();
await idleWait();
say({
  result: {
    healthy_hour: healthyHour,
    idle,
    after_outage: outage,
    after_flush: afterFlush,
    after_flush_idle: memory(),
    flush: {
      bundles: flushed,
      seconds: +seconds.toFixed(2),
      per_s: Math.round(flushed / seconds),
      backlog_left: status.backlog,
    },
  },
});
process.exit(0);
