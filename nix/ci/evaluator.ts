/**
 * CI's handle on the NixOS evaluator (nix/ci/nixos/): nixpkgs' lib.evalModules over NixOS's real
 * module files (the nixos-oracle test data), through the flake itself. A target is one system
 * the project ships or tests; its report holds what NixOS would write from it (unit texts, the
 * nftables ruleset, users, secrets) and the stub store those texts point into.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { NIX_DIR, NIX_ENV, REPO_ROOT, run, type ToolResult } from "./tools.ts";

export const ORACLE = join(REPO_ROOT, "..", "shared", "testdata", "nixos-oracle");
export const TARGETS = join(NIX_DIR, "ci", "nixos", "targets.nix");

const haveNix = run(["nix-instantiate", "--version"], { env: NIX_ENV }).code === 0;
const haveOracle = (() => {
  try {
    readFileSync(join(ORACLE, "nixos.sha256"));
    return true;
  } catch {
    return false;
  }
})();
/** Whether the evaluator can run here; CI must have both (its tests throw otherwise). */
export const evaluatorReady = haveNix && haveOracle;
if (!evaluatorReady && process.env.CI === "true") {
  throw new Error(
    "CI needs nix-instantiate and the nixos-oracle test data (../shared/testdata/nixos-oracle) for the NixOS evaluator",
  );
}

const Secret = z.strictObject({
  path: z.string(),
  mode: z.string(),
  owner: z.string(),
  group: z.string(),
});

export const Report = z.object({
  optionsForced: z.number(),
  warnings: z.array(z.string()),
  units: z.record(z.string(), z.string()),
  users: z.record(
    z.string(),
    z.object({
      isNormalUser: z.boolean(),
      extraGroups: z.array(z.string()),
      hashedPasswordFile: z.string().nullable(),
      keys: z.array(z.string()),
    }),
  ),
  sudoWheelNeedsPassword: z.boolean(),
  nftablesEnabled: z.boolean(),
  firewallEnabled: z.boolean(),
  nameservers: z.array(z.string()),
  ruleset: z.string().nullable(),
  /** Stub store path → the programs that package has in bin/. */
  store: z.record(z.string(), z.array(z.string())),
  /** Programs of the system profile (/run/current-system/sw/bin). */
  profileBins: z.array(z.string()),
  /** Every file an appliance secret is read from, by what reads it. */
  secretPaths: z.record(z.string(), z.string().nullable()),
  /** sops.secrets as the system declares them (empty without sops-nix). */
  sopsSecrets: z.record(z.string(), Secret),
});
export type Report = z.infer<typeof Report>;

export interface EvaluateOptions {
  /** A module file added to module-minimal (the negative cases). */
  extra?: string;
  /** The site's SOPS-encrypted secrets file (the appliance-sops target). */
  sopsFile?: string;
}

export function evaluate(target: string, options: EvaluateOptions = {}): ToolResult {
  const argv: [string, ...string[]] = [
    "nix-instantiate",
    "--eval",
    "--strict",
    "--json",
    TARGETS,
    "--arg",
    "oracle",
    ORACLE,
    "--argstr",
    "target",
    target,
  ];
  if (options.extra) argv.push("--arg", "extra", options.extra);
  if (options.sopsFile) argv.push("--arg", "sopsFile", options.sopsFile);
  return run(argv, { env: { ...NIX_ENV, NIXOS_ORACLE: ORACLE }, timeoutMs: 120_000 });
}

const reports = new Map<string, Report>();

/** The report of a target (cached per test file: evaluation is deterministic). */
export function report(target: string, options: EvaluateOptions = {}): Report {
  const key = JSON.stringify([target, options]);
  const cached = reports.get(key);
  if (cached) return cached;
  const result = evaluate(target, options);
  if (result.code !== 0) throw new Error(`${target} does not evaluate:\n${result.stderr}`);
  const parsed = Report.parse(JSON.parse(result.stdout));
  reports.set(key, parsed);
  return parsed;
}

/** Every target the evaluator knows. */
export function targetNames(): string[] {
  const result = run(
    ["nix-instantiate", "--eval", "--strict", "--json", TARGETS, "--arg", "oracle", ORACLE],
    { env: NIX_ENV },
  );
  if (result.code !== 0) throw new Error(`cannot list the evaluator's targets:\n${result.stderr}`);
  return z.array(z.string()).parse(JSON.parse(result.stdout));
}

/**
 * A scratch root for `systemd-analyze --root`: the named unit texts exactly as the evaluator
 * rendered them in /etc/systemd/system, the stub store laid out as stand-in executables (each
 * package gets only the programs the real nixpkgs package has in bin/), the system profile's
 * programs in /run/current-system/sw/bin, and this machine's own systemd units for the targets
 * and sockets the units order themselves after. Nothing in the texts is rewritten. (NixOS's
 * texts for systemd's own units are only its additions to the units systemd ships, which the
 * stub systemd package does not hold: those are not installed.)
 */
export function unitRoot(dir: string, system: Report, names: readonly string[]): string {
  const root = join(dir, "root");
  mkdirSync(join(root, "usr", "lib", "systemd"), { recursive: true });
  cpSync("/lib/systemd/system", join(root, "usr", "lib", "systemd", "system"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  const units = join(root, "etc", "systemd", "system");
  mkdirSync(units, { recursive: true });
  for (const name of names) {
    const text = system.units[name];
    if (text === undefined) throw new Error(`the system has no unit ${name}`);
    writeFileSync(join(units, name), text);
  }
  const standIn = (folder: string, program: string) => {
    mkdirSync(folder, { recursive: true });
    const path = join(folder, program);
    writeFileSync(path, "#!/bin/sh\nexit 0\n");
    chmodSync(path, 0o755);
  };
  for (const [storePath, programs] of Object.entries(system.store)) {
    mkdirSync(join(root, storePath), { recursive: true });
    for (const program of programs) standIn(join(root, storePath, "bin"), program);
  }
  for (const program of system.profileBins) {
    standIn(join(root, "run", "current-system", "sw", "bin"), program);
  }
  return root;
}

/** The folders of a unit's PATH= as NixOS rendered it (undefined: the unit sets none). */
export function unitPath(text: string): string[] | undefined {
  return /^Environment="?PATH=([^"\n]*)"?$/m.exec(text)?.[1]?.split(":");
}
