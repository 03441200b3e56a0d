/**
 * bench/scale: appliances polling every 60 s, with evidence and incidents at realistic rates,
 * offered open-loop (requests start on schedule whether or not earlier ones finished) against:
 * - the embedded default: one process, SQLite, in-process planner queue;
 * - PostgreSQL + JetStream with one HTTP instance (and one planner worker);
 * - PostgreSQL + JetStream with two HTTP instances (and one planner worker).
 * For each, 10,000 / 50,000 / 100,000 appliances (BENCH_FLEETS), i.e. ~167 / ~833 / ~1,667
 * polls/s; per 100 polls, 10 evidence uploads of 6 sealed bundles (six checks every 10 min)
 * and one incident per appliance per day. Throughput, p50/p99 latency per request kind, and the
 * queue lag (JetStream backlog sampled each second; the time to plan all incidents).
 *
 * The simulated fleet is BENCH_POOL real enrolled appliances (own client certificates, kept-
 * alive mTLS connections) from bench/control-plane, each polling more often than every 60 s to
 * offer the fleet's rate: the server does the same work per request (identity lookup, poll,
 * chain verification), but holds BENCH_POOL connections, not one per appliance.
 * Both ways, so results compare across machines: the achieved rate with p50/p99 per request kind,
 * and the server's CPU cost per operation from its own process accounting (utime + stime of
 * every server process in /proc/<pid>/stat, read before and after each phase; the load
 * generator's CPU is reported beside it, as it shares the machine's cores). Per topology:
 * - calibration: polls only, then evidence uploads only, each at a fixed rate below capacity:
 *   server CPU-seconds per 1,000 polls and per 1,000 verified bundles, and from both the
 *   appliances one core serves at 60 s polling (a poll plus its share of evidence per minute);
 * - memory per connected appliance: server RSS growth while the pool's kept-alive mTLS
 *   connections open (after a first 50 have warmed the process), divided by their number;
 * - each fleet point: server CPU-seconds per 1,000 polls with everything else of that minute
 *   (evidence, incidents) charged to the polls, and the appliances per core that gives.
 * - before/after (embedded default only): the polls phase once more against a second server
 *   that reads the client certificate the way the poll path did before (getPeerCertificate).
 * - against a baseline checkout (BENCH_BASELINE_SERVER=<checkout>/bench/control-plane/server.ts,
 *   embedded default only): the polls phase once more against that checkout's server.
 * BENCH_TOPOLOGIES (embedded, postgres_1, postgres_2) picks topologies; BENCH_FLEETS= (empty)
 * skips the fleet points; BENCH_SERVER_FLAGS adds Node flags to the servers (--cpu-prof).
 * PostgreSQL's and NATS's own CPU is not counted (shared servers on this machine).
 * Prints one JSON object; BENCH_SECONDS per point (default 20), BENCH_CALIBRATION_SECONDS
 * per calibration phase (default 10).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type ChainHead, GENESIS_HEAD, privateKeyToPem, sealBundle } from "#protocol";
import { createSecretBox } from "../../control-plane/src/pki/index.ts";
import { deleteNatsStreams, natsQueue } from "../../control-plane/src/queue/nats.ts";
import { TEST_NATS_URL } from "../../control-plane/src/queue/test-nats.ts";
import {
  openPostgresStore,
  openSqliteStore,
  type Store,
} from "../../control-plane/src/store/index.ts";
import {
  createTestSchema,
  TEST_DATABASE_URL,
} from "../../control-plane/src/store/postgres/test-database.ts";
import {
  evidenceSigner,
  orderKey,
  pollOf,
  populate,
  post,
  type Sim,
  secretKey,
  serverTls,
  TENANT,
  tenantCa,
} from "../control-plane/sim.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? "20");
const FLEETS = (process.env.BENCH_FLEETS ?? "10000,50000,100000")
  .split(",")
  .filter(Boolean)
  .map(Number);
/** Which topologies to run (BENCH_TOPOLOGIES=embedded for the embedded default alone). */
const TOPOLOGIES = (process.env.BENCH_TOPOLOGIES ?? "embedded,postgres_1,postgres_2").split(",");
/**
 * Another checkout's bench/control-plane/server.ts (same store schema): its poll path is
 * calibrated right after this one's, over the same store, as the same-run baseline.
 */
const BASELINE_SERVER = process.env.BENCH_BASELINE_SERVER;
/** Extra Node flags for the server processes, e.g. "--cpu-prof --cpu-prof-dir=<dir>". */
const SERVER_FLAGS = (process.env.BENCH_SERVER_FLAGS ?? "").split(/\s+/).filter(Boolean);
const POOL = Number(process.env.BENCH_POOL ?? "1000");
const CALIBRATION_SECONDS = Number(process.env.BENCH_CALIBRATION_SECONDS ?? "10");
/** Fixed calibration rates, below the embedded default's capacity on two shared cores. */
const CALIBRATION_POLLS_PER_S = 600;
const CALIBRATION_UPLOADS_PER_S = 60;
const WARM_CONNECTIONS = 50;
const MAX_IN_FLIGHT = 1024;
const POLL_S = 60;
const EVIDENCE_PER_POLL = 0.1;
const BUNDLES_PER_UPLOAD = 6;
const INCIDENTS_PER_APPLIANCE_DAY = 1;

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU-seconds (user + system) the kernel has charged to `pid` so far. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssKibOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

/** CPU of the server processes and of this load generator over one phase. */
function cpuMeter(pids: readonly number[]) {
  const server0 = pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const load0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const load = process.cpuUsage(load0);
    return {
      wall_s: (performance.now() - t0) / 1000,
      server_cpu_s: pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0) - server0,
      load_generator_cpu_s: (load.user + load.system) / 1e6,
    };
  };
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

type StoreSpec =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string; schema: string };

function startProcess(
  store: StoreSpec,
  queue?: { url: string; prefix: string; role: string },
  legacyPeerCertificate = false,
  script = join(import.meta.dirname, "../control-plane/server.ts"),
) {
  const spec = {
    legacyPeerCertificate,
    store,
    orderKeyPem: privateKeyToPem(orderKey.privateKey),
    secretKeyB64: secretKey.toString("base64"),
    tls: serverTls,
    ...(queue ? { queue } : {}),
  };
  const child = spawn(process.execPath, [...SERVER_FLAGS, script, JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
      if (line === "worker ready") resolve("");
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return {
    pid: child.pid as number,
    ready,
    stop: () =>
      new Promise((r) => {
        child.once("exit", r);
        child.kill("SIGTERM");
      }),
  };
}

const pct = (sorted: number[], p: number) =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) / 100;

type Rates = Record<"poll" | "evidence" | "incident", number>;

/** A fleet's traffic: a poll a minute, evidence and incidents at their rates per poll. */
const fleetRates = (fleet: number): Rates => ({
  poll: fleet / POLL_S,
  evidence: (fleet / POLL_S) * EVIDENCE_PER_POLL,
  incident: (fleet * INCIDENTS_PER_APPLIANCE_DAY) / 86_400,
});

/** Offers `rates` for `seconds` across `urls` (round robin), open loop. */
async function offer(
  urls: string[],
  sims: Sim[],
  heads: Map<string, ChainHead>,
  rates: Rates,
  seconds: number,
) {
  const lat = { poll: [] as number[], evidence: [] as number[], incident: [] as number[] };
  let errors = 0;
  let shed = 0;
  let inFlight = 0;
  let n = 0;
  const busy = new Set<string>(); // an appliance uploads one evidence batch at a time (its chain)
  const send = async (kind: keyof typeof lat) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      shed++;
      return;
    }
    const sim = sims[n++ % sims.length] as Sim;
    const url = urls[n % urls.length] as string;
    let body: string;
    let path: string;
    if (kind === "poll") {
      path = "poll";
      body = pollOf(sim.id);
    } else if (kind === "incident") {
      path = "incidents";
      body = JSON.stringify({
        v: 1,
        type: "incident",
        incident_id: randomUUID(),
        tenant_id: TENANT,
        appliance_id: sim.id,
        check_id: "services",
        severity: "high",
        detected_at: new Date().toISOString(),
        findings: [{ code: "unit_failed", subject: "chronyd.service" }],
        evidence: heads.get(sim.id) ?? GENESIS_HEAD,
        local_l1: { attempted: false, why_not: "bench" },
      });
    } else {
      if (busy.has(sim.id)) return send("poll"); // its previous batch is still in flight
      busy.add(sim.id);
      let head = heads.get(sim.id) ?? GENESIS_HEAD;
      const bundles = [];
      for (let i = 0; i < BUNDLES_PER_UPLOAD; i++) {
        const sealed = sealBundle(
          {
            tenant_id: TENANT,
            appliance_id: sim.id,
            recorded_at: new Date().toISOString(),
            event: {
              kind: "check_result",
              check_id: "backups",
              status: "pass",
              severity: "low",
              findings: [],
              duration_ms: 12.5,
            },
          },
          head,
          evidenceSigner,
        );
        bundles.push(sealed.bundle);
        head = sealed.head;
      }
      heads.set(sim.id, head);
      path = "evidence";
      body = JSON.stringify({
        v: 1,
        type: "evidence_upload",
        tenant_id: TENANT,
        appliance_id: sim.id,
        bundles,
      });
    }
    inFlight++;
    try {
      const r = await post(`${url}/v1/appliance/${path}`, sim.agent, body);
      if (r.status === 200) lat[kind].push(r.ms);
      else errors++;
    } catch {
      errors++;
    } finally {
      inFlight--;
      busy.delete(sim.id);
    }
  };
  const due = { poll: 0, evidence: 0, incident: 0 };
  const started = performance.now();
  const all: Promise<void>[] = [];
  let last = started;
  while (performance.now() - started < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 5));
    const now = performance.now();
    const dt = (now - last) / 1000;
    last = now;
    for (const kind of ["poll", "evidence", "incident"] as const) {
      due[kind] += rates[kind] * dt;
      while (due[kind] >= 1) {
        due[kind]--;
        all.push(send(kind));
      }
    }
  }
  await Promise.all(all);
  const elapsed = (performance.now() - started) / 1000;
  const summary = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return {
      ok: xs.length,
      per_s: Math.round(xs.length / elapsed),
      p50_ms: pct(xs, 0.5),
      p99_ms: pct(xs, 0.99),
    };
  };
  return {
    offered_polls_per_s: Math.round(rates.poll),
    polls: summary(lat.poll),
    evidence_uploads: summary(lat.evidence),
    incidents: summary(lat.incident),
    errors,
    shed_at_client_in_flight_cap: shed,
  };
}

async function run(
  name: string,
  open: () => Promise<{ store: Store; spec: StoreSpec; cleanup: () => Promise<void> }>,
  topology: { http: number; nats: boolean; beforeAfter?: boolean },
) {
  const { store, spec, cleanup } = await open();
  await store.migrate();
  await store.upsertTenant({
    tenantId: TENANT,
    caCertPem: tenantCa.certPem,
    caKeySealed: createSecretBox(secretKey).seal(tenantCa.keyPem),
    retentionDays: 2192,
  });
  const sims = await populate(store, POOL, 0);
  const prefix = `b${randomBytes(4).toString("hex")}_`;
  const q = topology.nats ? { url: TEST_NATS_URL, prefix } : undefined;
  const procs = [
    ...Array.from({ length: topology.http }, () =>
      startProcess(spec, q ? { ...q, role: "http" } : undefined),
    ),
    ...(q ? [startProcess(spec, { ...q, role: "planner" })] : []),
  ];
  const urls = (await Promise.all(procs.map((p) => p.ready))).filter(Boolean);
  const queue = q ? await natsQueue({ servers: q.url, prefix: q.prefix }) : undefined;
  const result: Record<string, unknown> = {};
  const heads = new Map<string, ChainHead>();
  try {
    const serverPids = procs.map((p) => p.pid);
    const httpPids = serverPids.slice(0, topology.http);
    const rss = () => httpPids.reduce((sum, pid) => sum + rssKibOf(pid), 0);
    // Warm-up: every pooled appliance opens its mTLS connection (handshakes are not measured);
    // the first ones warm the process, the growth over the rest is memory per connection.
    const connect = (from: number, to: number) =>
      Promise.all(
        sims
          .slice(from, to)
          .map((s, i) =>
            post(`${urls[(from + i) % urls.length]}/v1/appliance/poll`, s.agent, pollOf(s.id)),
          ),
      );
    await connect(0, WARM_CONNECTIONS);
    const rssWarm = rss();
    await connect(WARM_CONNECTIONS, sims.length);
    const connected = sims.length - WARM_CONNECTIONS;
    result.memory_per_connected_appliance_kib = round((rss() - rssWarm) / connected, 1);
    result.server_rss_mib_with_pool_connected = round(rss() / 1024, 1);

    // Calibration: one kind of request at a time, at a fixed rate, charged to the server.
    const calibrate = async (rates: Rates) => {
      const meter = cpuMeter(serverPids);
      const point = await offer(urls, sims, heads, rates, CALIBRATION_SECONDS);
      return { point, cpu: meter() };
    };
    const polls = await calibrate({ poll: CALIBRATION_POLLS_PER_S, evidence: 0, incident: 0 });
    const uploads = await calibrate({ poll: 0, evidence: CALIBRATION_UPLOADS_PER_S, incident: 0 });
    const cpuPerPoll = polls.cpu.server_cpu_s / Math.max(1, polls.point.polls.ok);
    const bundles = uploads.point.evidence_uploads.ok * BUNDLES_PER_UPLOAD;
    const cpuPerBundle = uploads.cpu.server_cpu_s / Math.max(1, bundles);
    // One appliance's minute: a poll, and its share of evidence (EVIDENCE_PER_POLL uploads).
    const cpuPerApplianceMinute =
      cpuPerPoll + EVIDENCE_PER_POLL * BUNDLES_PER_UPLOAD * cpuPerBundle;
    result.cpu_cost = {
      server_cpu_s_per_1000_polls: round(cpuPerPoll * 1000, 3),
      server_cpu_s_per_1000_verified_bundles: round(cpuPerBundle * 1000, 3),
      server_cpu_ms_per_appliance_minute: round(cpuPerApplianceMinute * 1000, 3),
      appliances_per_core_at_60s_polling: Math.round(POLL_S / cpuPerApplianceMinute),
      polls_phase: {
        ...polls.point.polls,
        server_cpu_s: round(polls.cpu.server_cpu_s),
        load_generator_cpu_s: round(polls.cpu.load_generator_cpu_s),
        wall_s: round(polls.cpu.wall_s, 1),
        errors: polls.point.errors,
      },
      evidence_phase: {
        ...uploads.point.evidence_uploads,
        bundles_per_upload: BUNDLES_PER_UPLOAD,
        server_cpu_s: round(uploads.cpu.server_cpu_s),
        load_generator_cpu_s: round(uploads.cpu.load_generator_cpu_s),
        wall_s: round(uploads.cpu.wall_s, 1),
        errors: uploads.point.errors,
      },
    };

    /**
     * The polls phase once more against a second server over the same store, right after this
     * one's: the CPU per poll of both, from the same run.
     */
    const againstSecondServer = async (server: ReturnType<typeof startProcess>) => {
      try {
        const url = await server.ready;
        await Promise.all(sims.map((s) => post(`${url}/v1/appliance/poll`, s.agent, pollOf(s.id))));
        const meter = cpuMeter([server.pid]);
        const point = await offer(
          [url],
          sims,
          heads,
          { poll: CALIBRATION_POLLS_PER_S, evidence: 0, incident: 0 },
          CALIBRATION_SECONDS,
        );
        const before = meter().server_cpu_s / Math.max(1, point.polls.ok);
        return {
          before_cpu_s_per_1000_polls: round(before * 1000, 3),
          after_cpu_s_per_1000_polls: round(cpuPerPoll * 1000, 3),
          after_over_before: round(cpuPerPoll / before, 3),
          before_polls: point.polls,
          after_polls: polls.point.polls,
        };
      } finally {
        await server.stop();
      }
    };
    // Before: another checkout's server (BENCH_BASELINE_SERVER); after: this one.
    if (topology.beforeAfter && BASELINE_SERVER)
      result.poll_path_against_baseline_checkout = await againstSecondServer(
        startProcess(spec, undefined, false, BASELINE_SERVER),
      );
    // Before: the poll path's previous client-certificate read (getPeerCertificate).
    if (topology.beforeAfter)
      result.poll_path_before_after_legacy_peer_certificate = await againstSecondServer(
        startProcess(spec, undefined, true),
      );

    for (const fleet of FLEETS) {
      let maxBacklog = 0;
      const sampler = setInterval(async () => {
        if (queue) maxBacklog = Math.max(maxBacklog, (await queue.stats()).pending);
      }, 1000);
      const load1Before = loadavg()[0] ?? 0;
      const meter = cpuMeter(serverPids);
      const point = await offer(urls, sims, heads, fleetRates(fleet), SECONDS);
      const cpu = meter();
      clearInterval(sampler);
      const drainStarted = performance.now();
      for (;;) {
        const waiting = await store.planner.incidentsIn("queued", null, 1);
        const planning = await store.planner.incidentsIn("planning", null, 1);
        if (waiting.length + planning.length === 0 || performance.now() - drainStarted > 30_000)
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Everything the server did in the point, charged to the polls it answered.
      const allInPerPoll = cpu.server_cpu_s / Math.max(1, point.polls.ok);
      result[`appliances_${fleet}`] = {
        ...point,
        cpu: {
          server_cpu_s: round(cpu.server_cpu_s),
          server_cores_busy: round(cpu.server_cpu_s / cpu.wall_s),
          load_generator_cores_busy: round(cpu.load_generator_cpu_s / cpu.wall_s),
          server_cpu_s_per_1000_polls_all_in: round(allInPerPoll * 1000, 3),
          appliances_per_core_at_60s_polling: Math.round(POLL_S / allInPerPoll),
        },
        queue: {
          max_backlog_messages: queue ? maxBacklog : "in-process",
          incidents_planned_ms_after_load: Math.round(performance.now() - drainStarted),
        },
        load_average_1m: [
          Math.round(load1Before * 100) / 100,
          Math.round((loadavg()[0] ?? 0) * 100) / 100,
        ],
      };
    }
  } finally {
    for (const s of sims) s.agent.destroy();
    await queue?.close();
    await Promise.all(procs.map((p) => p.stop()));
    if (q) await deleteNatsStreams(q.url, q.prefix);
    await store.close();
    await cleanup();
  }
  return { [name]: result };
}

const pgSpec = async () => {
  const { schema, drop } = await createTestSchema();
  return {
    store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
    spec: { kind: "postgres", url: TEST_DATABASE_URL, schema } as StoreSpec,
    cleanup: drop,
  };
};
const results: Record<string, unknown> = {};
const dir = mkdtempSync(join(tmpdir(), "cp-scale-bench-"));
if (TOPOLOGIES.includes("embedded"))
  Object.assign(
    results,
    await run(
      "embedded_sqlite_1_instance",
      async () => {
        const path = join(dir, "bench.sqlite");
        return {
          store: openSqliteStore(path),
          spec: { kind: "sqlite", path },
          cleanup: async () => {},
        };
      },
      { http: 1, nats: false, beforeAfter: true },
    ),
  );
if (TOPOLOGIES.includes("postgres_1"))
  Object.assign(
    results,
    await run("postgres_jetstream_1_http_instance", pgSpec, { http: 1, nats: true }),
  );
if (TOPOLOGIES.includes("postgres_2"))
  Object.assign(
    results,
    await run("postgres_jetstream_2_http_instances", pgSpec, { http: 2, nats: true }),
  );
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ bench: "scale", node: process.version, cpus: cpus().length, seconds_per_point: SECONDS, pooled_appliances: POOL, results }, null, 2)}\n`,
);
