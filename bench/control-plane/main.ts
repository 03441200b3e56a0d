/**
 * bench/control-plane: the appliance API over real mTLS on loopback, with the control plane in
 * its own process. For SQLite and PostgreSQL side by side:
 * - polls/s with p50/p99 latency for 1,000 and 10,000 simulated appliances (each with its own
 *   client certificate and kept-alive TLS connection; the first poll of each appliance is a full
 *   TLS handshake, reported separately as handshakes/s);
 * - evidence ingest: verified bundles/s for uploads of 100 pre-sealed bundles.
 * Prints one JSON object. `BENCH_SECONDS` (default 5) per measured phase; `BENCH_APPLIANCES`
 * (default "1000,10000"); PostgreSQL from TEST_DATABASE_URL, skipped when unreachable.
 * The client shares the machine's cores with the server: figures are a floor, compare ratios.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type EvidenceBundle, GENESIS_HEAD, privateKeyToPem, sealBundle } from "#protocol";
import { createSecretBox } from "../../control-plane/src/pki/index.ts";
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
  clientKey,
  evidenceSigner,
  orderKey,
  pollOf,
  populate,
  post,
  type Sim,
  secretKey,
  serverCa,
  serverTls,
  TENANT,
  tenantCa,
} from "./sim.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? "5");
const SIZES = (process.env.BENCH_APPLIANCES ?? "1000,10000").split(",").map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? "64");

async function runPool(
  tasks: number | undefined,
  seconds: number,
  work: (i: number) => Promise<number>,
) {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        if (tasks !== undefined ? i >= tasks : performance.now() > deadline) return;
        try {
          latencies.push(await work(i));
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(
      (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 100,
    ) / 100;
  return {
    requests: latencies.length,
    errors,
    per_s: Math.round(latencies.length / elapsed),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
  };
}

async function startServer(
  store: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string; schema: string },
) {
  const spec = {
    store,
    orderKeyPem: privateKeyToPem(orderKey.privateKey),
    secretKeyB64: secretKey.toString("base64"),
    tls: serverTls,
  };
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "server.ts"), JSON.stringify(spec)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((r) => {
        child.once("exit", r);
        child.kill("SIGTERM");
      }),
  };
}

async function benchStore(
  name: string,
  open: () => Promise<{
    store: Store;
    spec: Parameters<typeof startServer>[0];
    cleanup: () => Promise<void>;
  }>,
) {
  const { store, spec, cleanup } = await open();
  await store.migrate();
  await store.upsertTenant({
    tenantId: TENANT,
    caCertPem: tenantCa.certPem,
    caKeySealed: createSecretBox(secretKey).seal(tenantCa.keyPem),
    retentionDays: 2192,
  });
  const result: Record<string, unknown> = {};
  let populated: Sim[] = [];
  const server = await startServer(spec);
  try {
    for (const size of SIZES) {
      populated = populated.concat(
        await populate(store, size - populated.length, populated.length),
      );
      const sims = populated.slice(0, size);
      const url = `${server.url}/v1/appliance/poll`;
      const handshakes = await runPool(sims.length, 0, async (i) => {
        const sim = sims[i] as Sim;
        const r = await post(url, sim.agent, pollOf(sim.id));
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        return r.ms;
      });
      const polls = await runPool(undefined, SECONDS, async (i) => {
        const sim = sims[i % sims.length] as Sim;
        const r = await post(url, sim.agent, pollOf(sim.id));
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        return r.ms;
      });
      result[`appliances_${size}`] = {
        first_poll_full_tls_handshake: handshakes,
        polls_keepalive: polls,
      };
    }
    for (const sim of populated) sim.agent.destroy();

    // Evidence: one appliance uploads consecutive batches of 100 sealed bundles.
    const ingestAppliance = populated[0] as Sim;
    const batches: EvidenceBundle[][] = [];
    let head = GENESIS_HEAD;
    const total = Math.max(2000, Math.round(SECONDS * 3000));
    for (let b = 0; b < total / 100; b++) {
      const batch: EvidenceBundle[] = [];
      for (let i = 0; i < 100; i++) {
        const sealed = sealBundle(
          {
            tenant_id: TENANT,
            appliance_id: ingestAppliance.id,
            recorded_at: new Date().toISOString(),
            event: {
              kind: "check_result",
              check_id: "backups",
              status: "pass",
              severity: "low",
              findings: [
                { code: "backup_fresh", subject: "restic-nightly", expected: 24, observed: 3 },
              ],
              duration_ms: 12.5,
            },
          },
          head,
          evidenceSigner,
        );
        batch.push(sealed.bundle);
        head = sealed.head;
      }
      batches.push(batch);
    }
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: serverCa.certPem,
      cert: (await store.getAppliance(TENANT, ingestAppliance.id))?.certPem ?? "",
      key: clientKey.keyPem,
    });
    const started = performance.now();
    let stored = 0;
    for (const batch of batches) {
      const body = JSON.stringify({
        v: 1,
        type: "evidence_upload",
        tenant_id: TENANT,
        appliance_id: ingestAppliance.id,
        bundles: batch,
      });
      const r = await post(`${server.url}/v1/appliance/evidence`, agent, body);
      if (r.status !== 200) throw new Error(`evidence upload: ${r.status}`);
      stored += batch.length;
    }
    const elapsed = (performance.now() - started) / 1000;
    agent.destroy();
    result.evidence_ingest = {
      bundles: stored,
      batch: 100,
      bundles_per_s: Math.round(stored / elapsed),
    };
  } finally {
    await server.stop();
    await store.close();
    await cleanup();
  }
  return { [name]: result };
}

async function postgresReachable(): Promise<boolean> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const results: Record<string, unknown> = {};
const dir = mkdtempSync(join(tmpdir(), "cp-bench-"));
Object.assign(
  results,
  await benchStore("sqlite", async () => {
    const path = join(dir, "bench.sqlite");
    return {
      store: openSqliteStore(path),
      spec: { kind: "sqlite", path },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }),
);
if (await postgresReachable()) {
  Object.assign(
    results,
    await benchStore("postgres", async () => {
      const { schema, drop } = await createTestSchema();
      return {
        store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
        spec: { kind: "postgres", url: TEST_DATABASE_URL, schema },
        cleanup: drop,
      };
    }),
  );
} else {
  results.postgres = { skipped: `no PostgreSQL at ${TEST_DATABASE_URL}` };
}

process.stdout.write(
  `${JSON.stringify({ bench: "control-plane", node: process.version, cpus: cpus().length, seconds_per_phase: SECONDS, concurrency: CONCURRENCY, results }, null, 2)}\n`,
);
