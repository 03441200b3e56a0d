import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
      GATE_STATE_DIR: state,
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
