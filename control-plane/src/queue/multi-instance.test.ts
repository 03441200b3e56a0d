import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner, GENESIS_HEAD, type Incident, privateKeyFromPem, sha256Hex } from "#protocol";
import { dataDirLayout } from "../config.ts";
import {
  createCertificateAuthority,
  createClientCsr,
  createSecretBox,
  signClientCsr,
} from "../pki/index.ts";
import { openPostgresStore, type Store } from "../store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../store/postgres/test-database.ts";
import { allowedIds, choose, type ModelServer, startModelServer } from "../testing/model-server.ts";
import { recordPassingQualification } from "../testing/qualified-model.ts";
import { deleteNatsStreams } from "./nats.ts";
import { natsReachable, TEST_NATS_URL } from "./test-nats.ts";

/**
 * Two HTTP instances and two planner workers (real `control-plane serve` child processes) on
 * one PostgreSQL schema and one JetStream stream set. Incidents go to both fronts while one
 * worker is killed with SIGKILL: every incident is planned exactly once (one decision record
 * each), none is lost, nothing is dead-lettered.
 */
const ready = (await postgresReachable()) && (await natsReachable());
const main = resolve(import.meta.dirname, "../main.ts");
const INCIDENTS = 48;
const APPLIANCES = ["a-01", "a-02", "a-03", "a-04"];

interface Proc {
  child: ChildProcess;
  line: Promise<string>;
  output: string[];
}

function serve(args: string[]): Proc {
  const child = spawn(process.execPath, [main, "serve", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const line = new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout }).on("line", (l) => {
      output.push(l);
      if (/^(listening on|worker ready)/.test(l)) res(l);
    });
    createInterface({ input: child.stderr }).on("line", (l) => output.push(l));
    child.once("exit", (code) => rej(new Error(`serve exited ${code}:\n${output.join("\n")}`)));
  });
  return { child, line, output };
}

function post(url: string, agent: Agent | undefined, body: unknown, token?: string) {
  const text = body === undefined ? "" : JSON.stringify(body);
  return new Promise<{ status: number; body: unknown }>((res, rej) => {
    const req = request(
      url,
      {
        method: body === undefined ? "GET" : "POST",
        ...(agent ? { agent } : {}),
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => {
          const t = Buffer.concat(chunks).toString();
          res({ status: r.statusCode ?? 0, body: t ? JSON.parse(t) : undefined });
        });
      },
    );
    req.on("error", rej);
    req.end(text);
  });
}

describe.skipIf(!ready)("two HTTP instances and two workers on PostgreSQL and JetStream", () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-scale-"));
  const prefix = `m${randomBytes(4).toString("hex")}_`;
  const procs: Proc[] = [];
  let store: Store;
  let drop: () => Promise<void>;
  let schema: string;
  let model: ModelServer;

  beforeAll(async () => {
    ({ schema, drop } = await createTestSchema());
    // A slow L2 model choosing a runbook: each incident stays in planning for 300 ms, so the
    // killed worker surely dies with incidents in flight. The guardrails (cooldown per appliance,
    // orders per hour) let some choices become orders and escalate the rest.
    model = await startModelServer((r) => ({
      delayMs: 300,
      reply: choose(allowedIds(r).find((id) => id !== "escalate") ?? "escalate"),
    }));
    const data = join(dir, "cp");
    const init = spawn(process.execPath, [main, "init", "--data-dir", data], { stdio: "ignore" });
    expect(await new Promise((r) => init.once("exit", r))).toBe(0);
    const configFile = join(dir, "config.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        data_dir: data,
        store: { kind: "postgres", url: TEST_DATABASE_URL, schema },
        planner: { llm: { base_url: model.baseUrl, model: "slow", max_retries: 0 } },
      }),
    );
    store = openPostgresStore({ connectionString: TEST_DATABASE_URL, schema });
    await store.migrate();
    const orderKey = readFileSync(dataDirLayout(data).orderKey, "utf8");
    await recordPassingQualification(store.planner, createSigner(privateKeyFromPem(orderKey)), {
      baseUrl: model.baseUrl,
      model: "slow",
    });
    const base = ["--config", configFile, "--nats-url", TEST_NATS_URL, "--queue-prefix", prefix];
    const worker = () => serve([...base, "--roles", "planner", "--queue-ack-wait-ms", "1500"]);
    const http = () =>
      serve([...base, "--roles", "http,ingest", "--port", "0", "--host", "127.0.0.1"]);
    procs.push(http(), http(), worker(), worker());
    await Promise.all(procs.map((p) => p.line));
  }, 30_000);

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGTERM");
    await Promise.all(
      procs.map((p) =>
        p.child.exitCode === null && p.child.signalCode === null
          ? new Promise((r) => p.child.once("exit", r))
          : undefined,
      ),
    );
    await store?.close();
    await model?.close();
    await drop?.();
    await deleteNatsStreams(TEST_NATS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it("kill -9 one worker mid-stream: one decision per incident, no second order, none lost", async () => {
    const data = join(dir, "cp");
    const files = dataDirLayout(data);
    const serverCa = readFileSync(files.tlsCa, "utf8");
    const box = createSecretBox(
      Buffer.from(readFileSync(files.secretKey, "utf8").trim(), "base64"),
    );
    const tenantCa = await createCertificateAuthority("scale test tenant CA");
    await store.upsertTenant({
      tenantId: "clinic-a",
      caCertPem: tenantCa.certPem,
      caKeySealed: box.seal(tenantCa.keyPem),
      retentionDays: 2192,
    });
    const key = await createClientCsr("scale");
    const at = new Date().toISOString();
    const agents = new Map<string, Agent>();
    for (const [i, id] of APPLIANCES.entries()) {
      await store.registerAppliance({
        tenantId: "clinic-a",
        applianceId: id,
        macs: [`02:00:00:00:0a:0${i}`],
        settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
        tokenHash: null,
        tokenExpiresAt: null,
        createdAt: at,
      });
      const claim = {
        evidencePublicKey: `${"k".repeat(43)}=`,
        evidenceKeyFingerprint: "f".repeat(64),
        csrPem: key.csrPem,
        hostname: id,
        agentVersion: "test",
      };
      const cert = await signClientCsr(
        tenantCa,
        key.csrPem,
        { tenantId: "clinic-a", applianceId: id },
        30,
      );
      await store.setPending("clinic-a", id, claim);
      await store.approve("clinic-a", id, claim.evidenceKeyFingerprint);
      await store.activate(
        "clinic-a",
        id,
        { ...claim, certPem: cert.certPem, certFingerprint: cert.fingerprint, at },
        false,
      );
      agents.set(
        id,
        new Agent({ keepAlive: true, ca: serverCa, cert: cert.certPem, key: key.keyPem }),
      );
    }
    const token = randomBytes(24).toString("base64url");
    await store.addAdminToken(
      { tokenHash: sha256Hex(new TextEncoder().encode(token)), label: "test" },
      at,
    );
    const urls = await Promise.all(
      procs.slice(0, 2).map(async (p) => (await p.line).replace("listening on ", "").trim()),
    );

    const ids: string[] = [];
    for (let n = 0; n < INCIDENTS; n++) {
      const applianceId = APPLIANCES[n % APPLIANCES.length] as string;
      const incident: Incident = {
        v: 1,
        type: "incident",
        incident_id: randomUUID(),
        tenant_id: "clinic-a",
        appliance_id: applianceId,
        check_id: "services",
        severity: "high",
        detected_at: new Date().toISOString(),
        findings: [
          {
            code: "unit_failed",
            subject: "chronyd.service",
            expected: "active",
            observed: "failed",
          },
        ],
        evidence: GENESIS_HEAD,
        local_l1: { attempted: false, why_not: "no local rule" },
      };
      ids.push(incident.incident_id);
      const r = await post(
        `${urls[n % 2]}/v1/appliance/incidents`,
        agents.get(applianceId),
        incident,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    // Mid-stream: both workers are planning (the model has been asked) and the backlog waits.
    const asked = Date.now() + 10_000;
    while (model.requests.length < 6 && Date.now() < asked)
      await new Promise((r) => setTimeout(r, 20));
    procs[2]?.child.kill("SIGKILL");
    expect(
      procs[2]?.child.signalCode ??
        (await new Promise((r) => procs[2]?.child.once("exit", (_c, s) => r(s)))),
    ).toBe("SIGKILL");

    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    const rows = async <T>(query: string) => (await client.query(query)).rows as T[];
    try {
      const deadline = Date.now() + 25_000;
      let states: { status: string; n: string }[] = [];
      for (;;) {
        states = await rows(
          `select status, count(*) as n from ${schema}.incident_state group by status order by status`,
        );
        const decided = states
          .filter((s) => s.status === "escalated" || s.status === "ordered")
          .reduce((n, s) => n + Number(s.n), 0);
        if (decided === INCIDENTS) break;
        if (Date.now() > deadline)
          throw new Error(`incidents not all planned: ${JSON.stringify(states)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Exactly one decision record per incident: a decision commits with its status change
      // (one transaction), so the killed worker left either both or neither, and the takeover
      // found a committed decision and did not repeat it.
      const decisions = await rows<{ incident_id: string; n: string }>(
        `select incident_id, count(*) as n from ${schema}.decision_records group by incident_id`,
      );
      expect(decisions.map((d) => d.incident_id).sort()).toEqual([...ids].sort());
      expect(decisions.filter((d) => Number(d.n) !== 1)).toEqual([]);
      // No second order: every ordered incident has exactly one order (and attempt row), every
      // order belongs to an ordered incident, and there is no order without its decision.
      const ordered = await rows<{ incident_id: string; order_id: string }>(
        `select s.incident_id, s.note_json::json->>'order_id' as order_id
           from ${schema}.incident_state s where s.status = 'ordered'`,
      );
      const attempts = await rows<{ incident_id: string; order_id: string }>(
        `select incident_id, order_id from ${schema}.incident_attempts`,
      );
      const orders = await rows<{ order_id: string }>(`select order_id from ${schema}.orders`);
      expect(ordered.length).toBeGreaterThan(0);
      expect(attempts.map((a) => a.incident_id).sort()).toEqual(
        ordered.map((o) => o.incident_id).sort(),
      );
      expect(orders.map((o) => o.order_id).sort()).toEqual(ordered.map((o) => o.order_id).sort());
      for (const a of attempts) {
        expect(ordered.find((o) => o.incident_id === a.incident_id)?.order_id).toBe(a.order_id);
      }
    } finally {
      await client.end();
    }
    const adminAgent = new Agent({ ca: serverCa });
    const queue = await post(`${urls[0]}/v1/admin/queue`, adminAgent, undefined, token);
    adminAgent.destroy();
    expect(queue.status).toBe(200);
    expect(queue.body).toMatchObject({ kind: "nats", dead_letter_count: 0 });
    for (const a of agents.values()) a.destroy();
  }, 60_000);
});
