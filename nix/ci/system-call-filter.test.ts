import { spawnSync } from "node:child_process";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testAgentRuntime } from "../../scripts/agent-runtime.ts";
import { eventually } from "../../scripts/child-processes.ts";
import { type LabTestPair, startLabTestPair } from "../../scripts/lab-test-pair.ts";
import { evaluatorReady, report } from "./evaluator.ts";

/**
 * The agent's unit sets `SystemCallFilter=` (nix/lib/units.nix): on the appliance a system call
 * outside it fails with EPERM (`SystemCallErrorNumber=`), and nothing else here runs under
 * systemd's seccomp filter. (As root the agent's SQLite calls fchown, which the filter denies:
 * the unit's unprivileged User= is what keeps that call away, so the test runs as one too.) So this test runs the bundle that ships (on the runtime AGENT_RUNTIME names, with its
 * flags, under MemoryDenyWriteExecute) through enrollment, polls, an order and evidence pushes
 * under strace, and checks every system call it made against the filter of the unit NixOS's real
 * module code renders (the NixOS evaluator), with the sets expanded by this machine's
 * `systemd-analyze syscall-filter`. The appliance's systemd is newer than this machine's; its
 * sets only grow, so a call allowed here is allowed there.
 */
const haveStrace = spawnSync("strace", ["-V"]).status === 0;
const haveAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const ready = evaluatorReady && haveStrace && haveAnalyze;
if (!ready && !process.env.CI) {
  console.warn(
    "skipping the system-call filter test: it needs nix with the NixOS oracle (../shared/testdata), strace and systemd-analyze",
  );
}

/** The system calls of a `SystemCallFilter=` set (`@name`), its nested sets expanded. */
function expandSet(name: string, seen = new Map<string, Set<string>>()): Set<string> {
  const known = seen.get(name);
  if (known) return known;
  const result = spawnSync("systemd-analyze", ["syscall-filter", name], { encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(`systemd-analyze syscall-filter ${name}: ${result.stderr}`);
  const calls = new Set<string>();
  seen.set(name, calls);
  for (const line of result.stdout.split("\n")) {
    const entry = line.match(/^\s{4}([@a-z0-9_-]+)\s*$/)?.[1];
    if (entry === undefined) continue;
    if (entry.startsWith("@")) for (const call of expandSet(entry, seen)) calls.add(call);
    else calls.add(entry);
  }
  return calls;
}

/** The calls a unit's `SystemCallFilter=` lines allow, in systemd's order (allow, then `~` deny). */
function allowedSystemCalls(filterLines: readonly string[]): Set<string> {
  const allowed = new Set<string>();
  for (const line of filterLines) {
    const deny = line.startsWith("~");
    for (const item of (deny ? line.slice(1) : line).split(/\s+/).filter(Boolean)) {
      const calls = item.startsWith("@") ? expandSet(item) : new Set([item]);
      for (const call of calls) {
        if (deny) allowed.delete(call);
        else allowed.add(call);
      }
    }
  }
  return allowed;
}

/** System call names in an `strace -f -qq` log (a number not resolved reads `syscall_0x…`). */
function systemCallsOf(log: string): Set<string> {
  const calls = new Set<string>();
  for (const line of log.split("\n")) {
    const name = line.match(/^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)/)?.[1];
    if (name !== undefined) calls.add(name);
  }
  return calls;
}

const NOBODY = { uid: 65534, gid: 65534 };
let dir: string;
let pair: LabTestPair | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-syscalls-"));
  await chown(dir, NOBODY.uid, NOBODY.gid);
});
afterAll(async () => {
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!ready && !process.env.CI)("the agent under its unit's system-call filter", () => {
  it("makes no system call the rendered unit's SystemCallFilter refuses", async () => {
    const unit = report("appliance").units["compliance-agent.service"] ?? "";
    const filterLines = [...unit.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => m[1] ?? "");
    expect(filterLines.length).toBeGreaterThan(0);
    const allowed = allowedSystemCalls(filterLines);
    // The check can fail: the deny-list really removes calls, and strace's names are systemd's.
    expect(allowed.has("read")).toBe(true);
    expect(allowed.has("mount")).toBe(false);

    const tracePath = join(dir, "agent.strace");
    const p = await startLabTestPair({
      dir,
      tenantId: "e2e-syscalls",
      applianceId: "e2e-syscalls-01",
      pollIntervalS: 1,
      syscallTracePath: tracePath,
      // As the unit's User=: an unprivileged account (SQLite, for one, calls fchown as root only).
      user: NOBODY,
    });
    pair = p;
    p.cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: { unit: "chronyd.service" } });
    await eventually(
      "the order's result and its evidence",
      async () =>
        p.cp.orderResults.length >= 1 && p.cp.bundles.some((b) => b.event.kind === "order_accepted")
          ? true
          : undefined,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the agent said:\n${p.agent.output.slice(-20).join("\n")}`);
    });

    // strace's first line is the runtime's own pid: SIGTERM goes to it (not to strace), so the
    // agent's shutdown is traced too.
    const runtimePid = Number((await readFile(tracePath, "utf8")).match(/^(\d+)\s/)?.[1]);
    expect(runtimePid).toBeGreaterThan(0);
    process.kill(runtimePid, "SIGTERM");
    await eventually(
      "the agent to exit",
      async () => (p.agent.process.exitCode !== null ? true : undefined),
      30_000,
    );
    await p.stop();
    pair = undefined;

    const used = systemCallsOf(await readFile(tracePath, "utf8"));
    expect(used.has("execve")).toBe(true);
    expect(used.size).toBeGreaterThan(20);
    const refused = [...used].filter((call) => !allowed.has(call)).sort();
    expect(refused, `${testAgentRuntime().name}: calls outside the unit's filter`).toEqual([]);
  }, 120_000);
});
