import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type EvidenceBundle,
  privateKeyFromPem,
  publicKeyOf,
  verificationKey,
  verifyChain,
} from "#protocol";
import { agentBundleFromSource } from "../scripts/build-agent.ts";
import { type Child, eventually, startAgentChild } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * A really full disk, not the journal's size cap: the agent's state directory is a small tmpfs
 * mounted by the test, filled with a filler file to a few kilobytes of free space. The real
 * agent (the shipped bundle, lab mode, drift injected so it keeps writing) hits ENOSPC /
 * SQLITE_FULL: it keeps running and reports disk_full, the journal is never torn. When the
 * filler is removed (space returns) it records again, and everything reaches the control plane
 * as one chain that verifies from genesis. Needs root for mount (CI is root).
 */
const TENANT = "full-clinic";
const APPLIANCE = "full-clinic-01";
const root = resolve(import.meta.dirname, "..");
const bundle = await agentBundleFromSource();
const canMount = process.getuid?.() === 0;

let dir: string | undefined;
let mounted: string | undefined;
let pair: LabPair | undefined;
let agent: Child | undefined;

afterAll(async () => {
  await agent?.stop();
  await pair?.agent.stop();
  await pair?.controlPlane.stop();
  if (mounted) spawnSync("umount", [mounted]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!canMount && !process.env.CI)("a really full disk", () => {
  it("ENOSPC: the agent keeps running, never tears the journal, and recovers when space returns", async () => {
    dir = await mkdtemp(join(tmpdir(), "msp-full-"));
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

    // The state directory moves onto a 2 MiB tmpfs.
    const state = join(dir, "state-tmpfs");
    mkdirSync(state, { mode: 0o700 });
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", state]);
    expect(mount.status, String(mount.stderr)).toBe(0);
    mounted = state;
    cpSync(p.agentConfig.state_dir, state, { recursive: true });
    const free = () => {
      const s = statfsSync(state);
      return s.bavail * s.bsize;
    };
    // The first cycle below is this agent's own, not the copied status.
    rmSync(join(state, "status.json"), { force: true });
    const configPath = join(dir, "agent", "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    writeFileSync(configPath, JSON.stringify({ ...config, state_dir: state }), { mode: 0o600 });
    agent = startAgentChild(
      [bundle, "--config", configPath, "--lab", "--lab-state", p.labStateFile],
      root,
    );
    const a = agent;
    await eventually("a first cycle on the tmpfs", async () => {
      const file = join(state, "status.json");
      if (!existsSync(file)) return undefined;
      return JSON.parse(readFileSync(file, "utf8")).cycles >= 1 ? true : undefined;
    });
    // The disk fills up under the running agent, which has drift to heal and record.
    const filler = join(state, "filler");
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 8 * 1024)));
    expect(free()).toBeLessThanOrEqual(16 * 1024);
    p.injectDrift({ kind: "service_failed", unit: "chronyd.service" });
    p.injectDrift({ kind: "cpu_load_high" });
    await a.waitFor(/disk_full|disk is full/, 40_000);
    // Still running a few cycles later (poll interval 1 s).
    await new Promise((r) => setTimeout(r, 3000));
    expect(a.process.exitCode).toBeNull();
    expect(a.output.join("\n")).not.toMatch(/"level":"fatal"|malformed|corrupt/i);

    // Space returns: the agent records and delivers again without a restart.
    rmSync(filler);
    const key = verificationKey(
      publicKeyOf(privateKeyFromPem(readFileSync(p.agentConfig.evidence_key_path, "utf8"))),
    );
    const evidence = async () =>
      (
        (await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`)).body as {
          bundles: EvidenceBundle[];
        }
      ).bundles;
    const bundles = await eventually(
      "the heal's evidence to reach the control plane after space returns",
      async () => {
        const all = await evidence();
        const recovered = all.some(
          (b) => b.event.kind === "alert" && b.event.code === "journal_recovered",
        );
        return recovered && all.some((b) => b.event.kind === "healing_attempt") ? all : undefined;
      },
      40_000,
    );
    expect(bundles.map((b) => b.seq)).toEqual(bundles.map((_, i) => i + 1));
    expect(verifyChain(bundles, { key, tenantId: TENANT, applianceId: APPLIANCE }).ok).toBe(true);
    // The episode is evidence: journal_recovered counts the refused writes (a journal_full alert
    // is written from the journal's reserve when the filesystem still has room for it).
    const alerts = bundles.flatMap((b) => (b.event.kind === "alert" ? [b.event] : []));
    const recovered = alerts.find((e) => e.code === "journal_recovered");
    expect(recovered?.message).toMatch(/[1-9]\d* writes were refused/);
    console.log(JSON.stringify({ disk_full_alerts: alerts.map((e) => e.code) }));
    expect(a.process.exitCode).toBeNull();
    expect(await a.stop()).toBe(0);
  }, 90_000);
});
