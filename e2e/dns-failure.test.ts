import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import type { EvidenceBundle } from "#protocol";
import { testAgentRuntime } from "../scripts/agent-runtime.ts";
import { agentBundleFromSource } from "../scripts/build-agent.ts";
import { eventually } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * The plan's DNS scenario with real processes in a network namespace made by the test: the
 * control plane and the agent (the shipped bundle, lab mode) run inside it; the namespace has
 * only its loopback (no egress anywhere) and, through `ip netns exec`'s /etc/netns/<ns>/ files,
 * its own hosts file and resolver. The agent reaches the control plane by name (localhost, the
 * name its certificate carries). First the name does not resolve (no hosts entry, the resolver
 * points at an address where nothing answers): the agent records a control_plane_unreachable
 * alert, keeps running its checks, and queues. Then the name resolves again, and the agent
 * recovers by itself: the queue drains, every bundle receipted. Needs root and iproute2 (CI has
 * both; .ci/run installs iproute2).
 */
const TENANT = "dns-clinic";
const APPLIANCE = "dns-clinic-01";
const root = resolve(import.meta.dirname, "..");
const bundle = await agentBundleFromSource();
const runtime = testAgentRuntime();
const ip = spawnSync("ip", ["-V"]).status === 0;
const canRun = ip && process.getuid?.() === 0;
const ns = `msp-dns-${process.pid}`;
const etc = join("/etc/netns", ns);
const netnsDirExisted = existsSync("/etc/netns");

let dir: string | undefined;
let pair: LabPair | undefined;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await pair?.agent.stop();
  await pair?.controlPlane.stop();
  if (canRun) {
    spawnSync("ip", ["netns", "del", ns]);
    rmSync(etc, { recursive: true, force: true });
    // Only when this test made it and nothing else is in it.
    if (!netnsDirExisted) rmdirSafely("/etc/netns");
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `args` with `command` (default process.execPath) inside the namespace; resolves with its first line matching. */
function inNamespace(
  args: readonly string[],
  command: readonly string[] = [process.execPath],
): { child: ChildProcess; output: string[] } {
  const child = spawn("ip", ["netns", "exec", ns, ...command, ...args], {
    cwd: root,
    // The agent runtime's environment (Bun reads its JIT switch there; Node ignores it).
    env: { ...process.env, ...runtime.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const output: string[] = [];
  for (const s of [child.stdout, child.stderr])
    if (s) createInterface({ input: s }).on("line", (l) => output.push(l));
  return { child, output };
}

describe.skipIf(!canRun && !process.env.CI)("DNS failure with real processes", () => {
  it("no resolution, no egress: an alert, the agent keeps running, then recovers by itself", async () => {
    dir = await mkdtemp(join(tmpdir(), "msp-dns-"));
    pair = await startLabPair({
      dir,
      tenantId: TENANT,
      applianceId: APPLIANCE,
      pollIntervalS: 1,
      checkIntervalS: 10,
    });
    const p = pair;
    await p.enrolled();
    expect(await p.agent.stop()).toBe(0);
    expect(await p.controlPlane.stop()).toBe(0);
    const port = new URL(p.baseUrl).port;

    // The namespace: loopback only; its own hosts file (no localhost) and an unanswered resolver.
    expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
    expect(spawnSync("ip", ["-n", ns, "link", "set", "lo", "up"]).status).toBe(0);
    mkdirSync(etc, { recursive: true });
    const hosts = join(etc, "hosts");
    writeFileSync(hosts, "# no entries: nothing resolves\n");
    writeFileSync(join(etc, "resolv.conf"), "nameserver 127.0.0.9\noptions timeout:1 attempts:1\n");

    const cp = inNamespace([
      "control-plane/src/main.ts",
      "serve",
      "--config",
      join(dir, "control-plane.json"),
      "--port",
      port,
      "--host",
      "127.0.0.1",
    ]);
    await eventually("the control plane to listen in the namespace", async () =>
      cp.output.some((l) => /^listening on https:/.test(l)) ? true : undefined,
    );
    const configPath = join(dir, "agent", "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    writeFileSync(
      configPath,
      JSON.stringify({ ...config, control_plane_url: `https://localhost:${port}` }),
      { mode: 0o600 },
    );
    const agent = inNamespace(
      [bundle, "--config", configPath, "--lab", "--lab-state", p.labStateFile],
      [runtime.command, ...runtime.flags],
    );
    const state = p.agentConfig.state_dir;
    const journalPath = join(state, "journal.sqlite");
    const readStatus = async () =>
      JSON.parse(await readFile(join(state, "status.json"), "utf8")) as {
        last_error: string | null;
        cycles: number;
        contact_failures: number;
        evidence_head_seq: number;
        receipted_seq: number;
      };

    // Name resolution fails: an alert is evidence, the agent keeps cycling and queueing.
    const alert = await eventually(
      "a control_plane_unreachable alert",
      async () =>
        events(journalPath).find(
          (e) => e.kind === "alert" && e.code === "control_plane_unreachable",
        ),
      30_000,
    );
    expect(alert).toMatchObject({ severity: "medium", subject: "control_plane" });
    const offline = await readStatus();
    expect(offline.last_error).toMatch(/EAI_AGAIN|ENOTFOUND|getaddrinfo/);
    expect(offline.contact_failures).toBeGreaterThanOrEqual(3);
    expect(offline.receipted_seq).toBeLessThan(offline.evidence_head_seq);
    expect(agent.child.exitCode).toBeNull();

    // The name resolves again: the agent recovers without a restart and drains its queue.
    writeFileSync(hosts, "127.0.0.1 localhost\n");
    const back = await eventually(
      "the agent to recover and have everything receipted",
      async () => {
        const s = await readStatus();
        return s.contact_failures === 0 && s.receipted_seq === s.evidence_head_seq ? s : undefined;
      },
      30_000,
    );
    expect(back.cycles).toBeGreaterThan(offline.cycles);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output.join("\n")).not.toMatch(/"level":"fatal"/);
  }, 90_000);
});

function rmdirSafely(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // not empty or gone: leave it
  }
}

function events(path: string): EvidenceBundle["event"][] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("SELECT body FROM bundles ORDER BY seq").all() as { body: string }[];
    return rows.map((r) => (JSON.parse(r.body) as EvidenceBundle).event);
  } finally {
    db.close();
  }
}
