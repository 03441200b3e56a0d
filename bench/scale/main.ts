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
 * Prints one JSON object; BENCH_SECONDS per point (default 20).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
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
const FLEETS = (process.env.BENCH_FLEETS ?? "10000,50000,100000").split(",").map(Number);
const POOL = Number(process.env.BENCH_POOL ?? "1000");
const MAX_IN_FLIGHT = 1024;
const POLL_S = 60;
const EVIDENCE_PER_POLL = 0.1;
const BUNDLES_PER_UPLOAD = 6;
const INCIDENTS_PER_APPLIANCE_DAY = 1;

type StoreSpec =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string; schema: string };

function startProcess(store: StoreSpec, queue?: { url: string; prefix: string; role: string }) {
  const spec = {
    store,
    orderKeyPem: privateKeyToPem(orderKey.privateKey),
    secretKeyB64: secretKey.toString("base64"),
    tls: serverTls,
    ...(queue ? { queue } : {}),
  };
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "../control-plane/server.ts"), JSON.stringify(spec)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
      if (line === "worker ready") resolve("");
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return {
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

/** Offers `fleet` appliances' traffic for SECONDS across `urls` (round robin), open loop. */
async function offer(urls: string[], sims: Sim[], heads: Map<string, ChainHead>, fleet: number) {
  const pollRate = fleet / POLL_S;
  const rates = {
    poll: pollRate,
    evidence: pollRate * EVIDENCE_PER_POLL,
    incident: (fleet * INCIDENTS_PER_APPLIANCE_DAY) / 86_400,
  };
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
  while (performance.now() - started < SECONDS * 1000) {
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
    offered_polls_per_s: Math.round(pollRate),
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
  topology: { http: number; nats: boolean },
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
    // Warm-up: every pooled appliance opens its mTLS connection (handshakes are not measured).
    await Promise.all(
      sims.map((s, i) => post(`${urls[i % urls.length]}/v1/appliance/poll`, s.agent, pollOf(s.id))),
    );
    for (const fleet of FLEETS) {
      let maxBacklog = 0;
      const sampler = setInterval(async () => {
        if (queue) maxBacklog = Math.max(maxBacklog, (await queue.stats()).pending);
      }, 1000);
      const load1Before = loadavg()[0] ?? 0;
      const point = await offer(urls, sims, heads, fleet);
      clearInterval(sampler);
      const drainStarted = performance.now();
      for (;;) {
        const waiting = await store.planner.incidentsIn("queued", null, 1);
        const planning = await store.planner.incidentsIn("planning", null, 1);
        if (waiting.length + planning.length === 0 || performance.now() - drainStarted > 30_000)
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      result[`appliances_${fleet}`] = {
        ...point,
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
    { http: 1, nats: false },
  ),
  await run("postgres_jetstream_1_http_instance", pgSpec, { http: 1, nats: true }),
  await run("postgres_jetstream_2_http_instances", pgSpec, { http: 2, nats: true }),
);
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ bench: "scale", node: process.version, cpus: cpus().length, seconds_per_point: SECONDS, pooled_appliances: POOL, results }, null, 2)}\n`,
);
