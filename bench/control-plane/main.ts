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
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  createSigner,
  type EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  keyId,
  privateKeyToPem,
  publicKeyToBase64,
  randomNonce,
  sealBundle,
} from "#protocol";
import {
  createCertificateAuthority,
  createClientCsr,
  createSecretBox,
  issueServerCertificate,
  signClientCsr,
} from "../../control-plane/src/pki/index.ts";
import {
  openPostgresStore,
  openSqliteStore,
  type Store,
} from "../../control-plane/src/store/index.ts";
import {
  createTestSchema,
  TEST_DATABASE_URL,
} from "../../control-plane/src/store/postgres/test-database.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? "5");
const SIZES = (process.env.BENCH_APPLIANCES ?? "1000,10000").split(",").map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? "64");
const TENANT = "bench";

interface Sim {
  id: string;
  agent: Agent;
}

const orderKey = generateEd25519KeyPair();
const secretKey = randomBytes(32);
const serverCa = await createCertificateAuthority("bench server CA");
const serverTls = await issueServerCertificate(serverCa, { dns: ["localhost"], ip: ["127.0.0.1"] });
const tenantCa = await createCertificateAuthority("bench tenant CA");
// One appliance TLS key for all simulated appliances (each still gets its own certificate and
// so its own fingerprint binding); key generation is not what is measured.
const clientKey = await createClientCsr("bench");
const evidenceSigner = createSigner(generateEd25519KeyPair().privateKey);
const settings = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 };

async function populate(store: Store, count: number, offset: number): Promise<Sim[]> {
  const sims: Sim[] = [];
  const at = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = `a-${offset + i}`;
    const mac = `02:${[
      (offset + i) >> 24,
      ((offset + i) >> 16) & 255,
      ((offset + i) >> 8) & 255,
      (offset + i) & 255,
      1,
    ]
      .map((b) => (b & 255).toString(16).padStart(2, "0"))
      .join(":")}`;
    await store.registerAppliance({
      tenantId: TENANT,
      applianceId: id,
      macs: [mac],
      settings,
      tokenHash: null,
      tokenExpiresAt: null,
      createdAt: at,
    });
    const cert = await signClientCsr(
      tenantCa,
      clientKey.csrPem,
      { tenantId: TENANT, applianceId: id },
      30,
    );
    await store.setPending(TENANT, id, {
      evidencePublicKey: publicKeyToBase64(evidenceSigner.publicKey),
      evidenceKeyFingerprint: keyId(evidenceSigner.publicKey),
      csrPem: clientKey.csrPem,
      hostname: "bench",
      agentVersion: "bench",
    });
    await store.approve(TENANT, id, keyId(evidenceSigner.publicKey));
    await store.activate(
      TENANT,
      id,
      {
        evidencePublicKey: publicKeyToBase64(evidenceSigner.publicKey),
        evidenceKeyFingerprint: keyId(evidenceSigner.publicKey),
        csrPem: clientKey.csrPem,
        hostname: "bench",
        agentVersion: "bench",
        certPem: cert.certPem,
        certFingerprint: cert.fingerprint,
        at,
      },
      false,
    );
    sims.push({
      id,
      agent: new Agent({
        keepAlive: true,
        maxSockets: 1,
        ca: serverCa.certPem,
        cert: cert.certPem,
        key: clientKey.keyPem,
      }),
    });
  }
  return sims;
}

function post(url: string, agent: Agent, body: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const pollOf = (id: string) =>
  JSON.stringify({
    v: 1,
    type: "poll_request",
    tenant_id: TENANT,
    appliance_id: id,
    nonce: randomNonce(),
    last_order_seq: 0,
    evidence_head: { seq: 0, hash: GENESIS_HEAD.hash },
    agent_version: "bench",
    sent_at: new Date().toISOString(),
  });

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
