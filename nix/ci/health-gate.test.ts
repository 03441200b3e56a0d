import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ActionContext } from "../../agent/src/healing/actions/context.ts";
import { GOOD_SYSTEM_RECORD, rollback } from "../../agent/src/healing/actions/nixos.ts";
import { linuxHost } from "../../agent/src/host/linux.ts";
import type { ExecRequest } from "../../agent/src/ports.ts";
import { evaluatorReady, report } from "./evaluator.ts";
import { NIX_DIR, tempDir } from "./tools.ts";

/**
 * The health gate's script (nix/health-gate.sh) with stand-in systemctl, nix-env and
 * systemd-run that record their argv: a generation that passed is remembered; an unhealthy one
 * is rolled back to the recorded good system path with `nix-env --set` (the agent runbook's
 * mechanism), never with a relative `--rollback`.
 */
const SCRIPT = join(NIX_DIR, "health-gate.sh");
const tmp = tempDir("health-gate-");
afterAll(tmp.remove);

function setup(name: string, options: { active: boolean; good?: string; current: string }) {
  const dir = join(tmp.dir, name);
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  mkdirSync(bin, { recursive: true });
  mkdirSync(state);
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  const stub = (program: string, exit: number) => {
    const path = join(bin, program);
    writeFileSync(path, `#!/bin/sh\necho "${program} $*" >> "${log}"\nexit ${exit}\n`);
    chmodSync(path, 0o755);
  };
  stub("systemctl", options.active ? 0 : 3);
  stub("nix-env", 0);
  stub("systemd-run", 0);
  const system = join(dir, options.current);
  mkdirSync(system);
  symlinkSync(system, join(dir, "current-system"));
  if (options.good) writeFileSync(join(state, "good-system"), `${join(dir, options.good)}\n`);
  const r = spawnSync("bash", [SCRIPT, "compliance-agent.service", "sshd.service"], {
    encoding: "utf8",
    env: {
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      GATE_GOOD_SYSTEM: join(state, "good-system"),
      GATE_CURRENT: join(dir, "current-system"),
      GATE_PROFILE: join(dir, "profiles/system"),
      GATE_TIMEOUT: "0",
      GATE_INTERVAL: "0",
    },
  });
  return {
    r,
    dir,
    calls: readFileSync(log, "utf8"),
    good: () => readFileSync(join(state, "good-system"), "utf8").trim(),
  };
}

describe("the upgrade health gate", () => {
  it("records a healthy generation as the known good one", () => {
    const { r, dir, good } = setup("healthy", { active: true, current: "system-2" });
    expect(r.status, r.stderr).toBe(0);
    expect(good()).toBe(join(dir, "system-2"));
  });

  it("rolls an unhealthy generation back to the recorded good system with --set", () => {
    const { r, dir, calls } = setup("unhealthy", {
      active: false,
      current: "system-3",
      good: "system-2",
    });
    expect(r.status).toBe(1);
    const good = join(dir, "system-2");
    expect(calls).toContain(`nix-env --profile ${join(dir, "profiles/system")} --set ${good}`);
    expect(calls).not.toContain("--rollback");
    expect(calls).toContain(
      `systemd-run --unit=compliance-agent-rollback --collect --no-block ${good}/bin/switch-to-configuration switch`,
    );
  });

  it("never rolls back on the first boot (nothing passed yet)", () => {
    const { r, calls } = setup("first", { active: false, current: "system-1" });
    expect(r.status).toBe(1);
    expect(calls).not.toContain("nix-env");
    expect(r.stderr).toMatch(/first boot/);
  });
});

/**
 * The gate and the agent's nixos.rollback share one "known good" record: what the gate wrote is
 * what the agent rolls back to, and what the agent rolled back to is what the gate then accepts.
 */
describe("one known-good record for the gate and the agent", () => {
  /** The agent's rollback step on a host whose record is the gate's file; argv is recorded. */
  async function agentRollback(record: string, running: string) {
    const calls: string[][] = [];
    const host = {
      ...linuxHost,
      readFile: (path: string, max: number) =>
        linuxHost.readFile(path === GOOD_SYSTEM_RECORD ? record : path, max),
      readlink: async (path: string) => (path === "/run/current-system" ? running : undefined),
      exec: async (request: ExecRequest) => {
        calls.push([...request.argv]);
        return { kind: "exited", code: 0, stdout: "", stderr: "", truncated: false } as const;
      },
    };
    const ctx = {
      host,
      memory: { switched: true, systemBefore: running },
      timeoutMs: 1000,
      signal: new AbortController().signal,
    } as unknown as ActionContext;
    return { result: await rollback({}, ctx), calls };
  }
  const store = (name: string) => `/nix/store/${"a".repeat(32)}-nixos-system-${name}`;

  it("gate → agent: the agent rolls back to the system the gate recorded", async () => {
    const { dir, good, r } = setup("gate-then-agent", { active: true, current: "system-5" });
    expect(r.status, r.stderr).toBe(0);
    // The file the gate wrote is the one the agent reads. (Here the gate recorded a temporary
    // folder, as there is no /nix/store; the record then gets a store path of the same shape.)
    const record = join(dir, "state", "good-system");
    expect(good()).toBe(join(dir, "system-5"));
    writeFileSync(record, `${store("5")}\n`);
    const { result, calls } = await agentRollback(record, store("6"));
    expect(result.ok, result.detail).toBe(true);
    expect(calls).toEqual([
      ["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", store("5")],
      ["/nix/var/nix/profiles/system/bin/switch-to-configuration", "switch"],
    ]);
  });

  it("agent → gate: after the agent's rollback the gate accepts the running system as passed", () => {
    const { dir, r, calls } = setup("agent-then-gate", {
      active: false,
      current: "system-5",
      good: "system-5",
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${join(dir, "system-5")} already passed`));
    expect(calls).not.toContain("nix-env");
  });

  it("without a record the agent does not guess a generation", async () => {
    const { result, calls } = await agentRollback(join(tmp.dir, "absent"), store("6"));
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/no system has passed the health gate/);
    expect(calls).toEqual([]);
  });

  it.skipIf(!evaluatorReady)("the gate's unit keeps its record where the agent reads it", () => {
    const unit = report("appliance").units["compliance-agent-health-gate.service"] ?? "";
    const folder = /^StateDirectory=(.+)$/m.exec(unit)?.[1];
    expect(GOOD_SYSTEM_RECORD).toBe(`/var/lib/${folder}/good-system`);
  });
});
