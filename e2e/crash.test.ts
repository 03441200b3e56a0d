import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ChainHead,
  type EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  privateKeyFromPem,
  publicKeyOf,
  publicKeyToBase64,
  verificationKey,
  verifyChain,
} from "#protocol";
import { testAgentRuntime } from "../scripts/agent-runtime.ts";
import { agentBundleFromSource } from "../scripts/build-agent.ts";
import { type Child, eventually, startAgentChild, startChild } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * Crash safety with real processes: the real control plane and the agent bundle that ships
 * (built from the sources by agentBundleFromSource, as agent/dist/agent.mjs is) in lab mode.
 * Before each start the lab appliance's backup unit is failed, so every start is a busy cycle:
 * six checks, an L1 heal (systemctl start restic-backups-…, which adds a snapshot to the lab
 * state: the execution counter), evidence sealed, pushed and receipted, a poll. The agent is
 * killed with SIGKILL at a random instant of that cycle, KILLS times; every few rounds the
 * control plane is killed with SIGKILL too while the agent pushes, and restarted on the same
 * address and data. After every kill: the journal opens and its chain continues the chain
 * verified so far (no fork, nothing rewritten), nothing the control plane acknowledged is
 * missing from the journal's head, and the backup ran at most once per injected failure.
 */
const TENANT = "crash-clinic";
const APPLIANCE = "crash-clinic-01";
const KILLS = Number(process.env.KILLS ?? 50);
const CP_KILL_EVERY = 12;
const root = resolve(import.meta.dirname, "..");
const bundle = await agentBundleFromSource();
const runtime = testAgentRuntime();
// The lab appliance's backup job (scripts/lab-pair.ts configures the agent with it).
let LAB_BACKUP_JOB = "";
// Snapshots made by the lab's `systemctl start restic-backups-<job>.service` have ids that
// start with the hex of the unit name (see the lab host's systemctl emulator).
const runMark = () => Buffer.from(`restic-backups-${LAB_BACKUP_JOB}`).toString("hex").slice(0, 40);

let dir: string | undefined;
let pair: LabPair | undefined;
let controlPlane: Child | undefined;
let agent: ChildProcess | undefined;

afterAll(async () => {
  agent?.kill("SIGKILL");
  await pair?.agent.stop();
  await pair?.controlPlane.stop();
  await controlPlane?.stop();
  if (dir && !process.env.KEEP_DIR) await rm(dir, { recursive: true, force: true });
});

describe("crash safety with real processes", () => {
  it(`survives ${KILLS} kill -9 of the agent in busy cycles and kill -9 of the control plane mid-ingest`, async () => {
    dir = await mkdtemp(join(tmpdir(), "msp-crash-"));
    pair = await startLabPair({
      dir,
      tenantId: TENANT,
      applianceId: APPLIANCE,
      pollIntervalS: 1,
      checkIntervalS: 10,
    });
    const p = pair;
    LAB_BACKUP_JOB = (p.agentConfig.host as { backup_jobs: string[] }).backup_jobs[0] ?? "";
    expect(LAB_BACKUP_JOB).not.toBe("");
    await p.enrolled();
    await p.agent.stop();
    const configPath = join(dir, "agent", "config.json");
    const journalPath = join(p.agentConfig.state_dir, "journal.sqlite");
    const key = verificationKey(
      publicKeyOf(privateKeyFromPem(await readFile(p.agentConfig.evidence_key_path, "utf8"))),
    );
    const ids = { tenantId: TENANT, applianceId: APPLIANCE };
    const port = new URL(p.baseUrl).port;
    controlPlane = p.controlPlane;

    const cpBundles = async (after: number): Promise<EvidenceBundle[]> => {
      const all: EvidenceBundle[] = [];
      for (let from = after; ; ) {
        const res = await p.admin(
          `/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?after=${from}&limit=1000`,
        );
        const page = (res.body as { bundles: EvidenceBundle[] }).bundles;
        all.push(...page);
        if (page.length < 1000) return all;
        from = page.at(-1)?.seq ?? from;
      }
    };
    const executions = async () => {
      const state = JSON.parse(await readFile(p.labStateFile, "utf8"));
      const snapshots = state.backups[LAB_BACKUP_JOB].snapshots as { id: string }[];
      return snapshots.filter((s) => s.id.startsWith(runMark())).length;
    };
    const restartControlPlane = async () => {
      controlPlane = startChild(
        [
          "control-plane/src/main.ts",
          "serve",
          "--config",
          join(dir as string, "control-plane.json"),
          "--port",
          port,
          "--host",
          "127.0.0.1",
        ],
        root,
      );
      // A loaded machine can take tens of seconds to start the control plane from source.
      await controlPlane.waitFor(/^listening on https:\/\//, 60_000);
    };

    const unfinished = async (ids: readonly string[]) => {
      const open: string[] = [];
      for (const id of ids) {
        const { status } = (await p.admin(`/tenants/${TENANT}/orders/${id}`)).body as {
          status: string;
        };
        if (!["succeeded", "failed", "rejected", "expired"].includes(status)) open.push(id);
      }
      return open;
    };

    let verified: ChainHead = GENESIS_HEAD;
    let busyKills = 0;
    let cpKills = 0;
    let ran = await executions();
    const orders: string[] = [];
    const outstanding: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      p.injectDrift({ kind: "service_failed", unit: "chronyd.service" });
      const created = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
        runbook_id: "RB-BACKUP-001-failure",
        params: { job: LAB_BACKUP_JOB },
        tier: "L3",
        ttl_s: 600,
      });
      expect(created.status).toBe(201);
      orders.push((created.body as { order_id: string }).order_id);
      outstanding.push((created.body as { order_id: string }).order_id);
      const before = readJournal(journalPath).head.seq;
      const child = spawn(
        runtime.command,
        [...runtime.flags, bundle, "--config", configPath, "--lab", "--lab-state", p.labStateFile],
        { cwd: root, env: { ...process.env, ...runtime.env }, stdio: ["ignore", "pipe", "pipe"] },
      );
      agent = child;
      const stderr: string[] = [];
      child.stderr?.on("data", (c: Buffer) => stderr.push(c.toString("utf8")));
      // The agent's "agent starting" line: the runtime has loaded the bundle and the catalog,
      // and the cycle begins (loading takes longer on some runtimes than on others).
      const logging = new Promise<void>((r) => {
        if (child.stdout)
          createInterface({ input: child.stdout }).on("line", (line) => {
            if (line.includes('"msg":"agent starting"')) r();
          });
        child.once("exit", () => r());
      });
      const exited = new Promise<NodeJS.Signals | null>((r) =>
        child.once("exit", (_code, signal) => r(signal)),
      );
      const cpDies = round % CP_KILL_EVERY === CP_KILL_EVERY - 1;
      // A random instant of the busy cycle (checks, heal, push, poll), counted from the agent's
      // starting line so that a loaded machine's slower process start does not turn most kills
      // into kills before the cycle has begun.
      await Promise.race([logging, sleep(20_000)]);
      await sleep(Math.floor(Math.random() * 900));
      if (cpDies) {
        controlPlane.process.kill("SIGKILL");
        await new Promise((r) => controlPlane?.process.once("exit", r));
        cpKills++;
        await sleep(100 + Math.floor(Math.random() * 300));
      }
      child.kill("SIGKILL");
      expect(await exited, `round ${round}: ${stderr.join("")}`).toBe("SIGKILL");
      if (cpDies) await restartControlPlane();

      // The journal opens and continues the chain verified so far.
      const journal = readJournal(journalPath);
      if (journal.head.seq > before) busyKills++;
      const acked = (await cpBundles(verified.seq)).filter((b) => b.seq > verified.seq);
      const local = journal.bundles.filter((b) => b.seq > (acked.at(-1)?.seq ?? verified.seq));
      for (const b of acked) {
        const mine = journal.bundles.find((j) => j.seq === b.seq);
        if (mine) expect(mine, `round ${round}: seq ${b.seq}`).toEqual(b);
      }
      const verdict = verifyChain([...acked, ...local], { key, ...ids, from: verified });
      expect(verdict.ok, `round ${round}: ${JSON.stringify(verdict)}`).toBe(true);
      if (!verdict.ok) return;
      // Nothing the control plane acknowledged is behind the journal's head.
      expect(journal.head).toEqual(verdict.head);
      verified = verdict.head;

      // The backup ran at most once per order still outstanding at the start of this round
      // (an order a kill cut off before its poll runs in a later round); a finished order
      // never runs again.
      const now = await executions();
      expect(now - ran, `round ${round}`).toBeLessThanOrEqual(outstanding.length);
      const open = await unfinished(outstanding);
      outstanding.splice(0, outstanding.length, ...open);
      ran = now;
    }

    // A clean start flushes everything; the control plane then holds the whole chain once.
    const headBefore = readJournal(journalPath).head.seq;
    const last = startAgentChild(
      [bundle, "--config", configPath, "--lab", "--lab-state", p.labStateFile],
      root,
    );
    let lastSeen: unknown;
    let flushed = 0;
    try {
      flushed = await eventually(
        "the agent to flush its journal",
        async () => {
          const j = readJournal(journalPath);
          const cp = await cpBundles(Math.max(0, j.head.seq - 1));
          lastSeen = { outbox: j.outbox, cp: cp.at(-1)?.seq, head: j.head.seq };
          const open = await unfinished(orders);
          lastSeen = { ...(lastSeen as object), open, dir };
          const done =
            open.length === 0 &&
            j.head.seq > headBefore &&
            j.outbox === 0 &&
            cp.at(-1)?.seq === j.head.seq;
          return done ? j.head.seq : undefined;
        },
        30_000,
      );
    } catch (e) {
      throw new Error(`${e}: ${JSON.stringify(lastSeen)}\n${last.output.slice(-30).join("\n")}`);
    } finally {
      const code = await last.stop();
      expect(
        code,
        `the agent's exit on SIGTERM; its last lines:\n${last.output.slice(-30).join("\n")}`,
      ).toBe(0);
    }
    const all = await cpBundles(0);
    expect(all.map((b) => b.seq)).toEqual(all.map((_, i) => i + 1));
    const whole = verifyChain(all, { key, ...ids });
    expect(whole.ok).toBe(true);
    // Everything up to the flush is on the control plane (the stop's own bundle may follow).
    expect(all.at(-1)?.seq).toBeGreaterThanOrEqual(flushed);
    const statuses: Record<string, number> = {};
    for (const id of orders) {
      const { status } = (await p.admin(`/tenants/${TENANT}/orders/${id}`)).body as {
        status: string;
      };
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    const total = await executions();
    // Every order finished (an order a kill cut off is reported failed on the next start);
    // every success is a real run, and no order ran twice.
    expect(Object.keys(statuses).sort()).toEqual(
      expect.arrayContaining(
        Object.keys(statuses).filter((k) => ["succeeded", "failed"].includes(k)),
      ),
    );
    expect((statuses.succeeded ?? 0) + (statuses.failed ?? 0), JSON.stringify(statuses)).toBe(
      KILLS,
    );
    expect(statuses.succeeded ?? 0).toBeGreaterThan(0);
    expect(statuses.succeeded ?? 0).toBeLessThanOrEqual(total);
    expect(total).toBeLessThanOrEqual(KILLS);
    expect(total).toBeLessThanOrEqual((statuses.succeeded ?? 0) + (statuses.failed ?? 0));
    expect(busyKills).toBeGreaterThan(KILLS / 2);
    expect(cpKills).toBe(Math.floor(KILLS / CP_KILL_EVERY));
    console.log(
      JSON.stringify({
        agent_kills: KILLS,
        kills_mid_write: busyKills,
        control_plane_kills: cpKills,
        bundles: all.length,
        bundles_lost: 0,
        duplicates: 0,
        orders: statuses,
        backup_runs: total,
      }),
    );
  }, 300_000);
});

describe("a bad signature with real processes", () => {
  it("the agent pinned to another key refuses the real control plane's poll responses and runs nothing", async () => {
    const p = pair;
    if (!p || !dir) throw new Error("runs after the crash test, on its pair");
    const configPath = join(dir, "agent", "config.json");
    const config = JSON.parse(await readFile(configPath, "utf8"));
    const wrong = publicKeyToBase64(publicKeyOf(generateEd25519KeyPair().privateKey));
    await writeFile(configPath, JSON.stringify({ ...config, order_signing_public_key: wrong }));
    const journalPath = join(p.agentConfig.state_dir, "journal.sqlite");
    const before = readJournal(journalPath).head.seq;
    const created = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
      runbook_id: "RB-BACKUP-001-failure",
      params: { job: LAB_BACKUP_JOB },
    });
    expect(created.status).toBe(201);
    const { order_id } = created.body as { order_id: string };
    const runsBefore = JSON.parse(await readFile(p.labStateFile, "utf8")).backups[LAB_BACKUP_JOB]
      .snapshots.length;
    const wrongKey = startAgentChild(
      [bundle, "--config", configPath, "--lab", "--lab-state", p.labStateFile],
      root,
    );
    try {
      const alert = await eventually("a poll_bad_signature alert", async () =>
        readJournal(journalPath)
          .bundles.filter((b) => b.seq > before)
          .map((b) => b.event)
          .find((e) => e.kind === "alert" && e.code === "poll_bad_signature"),
      );
      expect(alert).toMatchObject({ severity: "high" });
    } finally {
      expect(await wrongKey.stop()).toBe(0);
      await writeFile(configPath, JSON.stringify(config));
    }
    // Nothing ran, and the order is still waiting for an appliance that trusts its signer.
    const runsAfter = JSON.parse(await readFile(p.labStateFile, "utf8")).backups[LAB_BACKUP_JOB]
      .snapshots.length;
    expect(runsAfter).toBe(runsBefore);
    const order = (await p.admin(`/tenants/${TENANT}/orders/${order_id}`)).body as {
      status: string;
    };
    expect(["queued", "delivered"]).toContain(order.status);
  }, 60_000);
});

function readJournal(path: string): { head: ChainHead; bundles: EvidenceBundle[]; outbox: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const head = db.prepare("SELECT value FROM state WHERE key = 'head'").get() as
      | { value: string }
      | undefined;
    const rows = db.prepare("SELECT body FROM bundles ORDER BY seq").all() as { body: string }[];
    const outbox = db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number };
    return {
      head: head ? (JSON.parse(head.value) as ChainHead) : GENESIS_HEAD,
      bundles: rows.map((r) => JSON.parse(r.body) as EvidenceBundle),
      outbox: outbox.n,
    };
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
