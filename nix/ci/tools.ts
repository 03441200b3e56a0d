/**
 * CI's handles on the real tools that check what the NixOS module deploys: nix-instantiate
 * (Debian's nix-bin; no nixpkgs, no network), nft, systemd-analyze and ip. Every tool runs as
 * argv, never through a shell. The module's pure functions (nix/lib: config, ruleset,
 * assertions, baseline) are evaluated by nix/ci/render.nix; the unit files and the ruleset as
 * NixOS writes them come from the NixOS evaluator (./evaluator.ts).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

export const NIX_DIR = join(import.meta.dirname, "..");
export const REPO_ROOT = join(NIX_DIR, "..");

/** Nix 2.8 here runs as root without a daemon: no substituters, no registry, no build users. */
export const NIX_ENV = {
  ...process.env,
  NIX_CONFIG: "substituters =\nflake-registry =\nbuild-users-group =\n",
};

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(
  argv: readonly [string, ...string[]],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): ToolResult {
  const [file, ...args] = argv;
  const result = spawnSync(file, args, {
    encoding: "utf8",
    env: options.env ?? process.env,
    timeout: options.timeoutMs ?? 15_000,
    input: options.input,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `nix-instantiate --parse`: the syntax gate for every .nix file. */
export function nixParse(file: string): ToolResult {
  return run(["nix-instantiate", "--parse", file], { env: NIX_ENV });
}

const Rendered = z.strictObject({
  failedAssertions: z.array(z.string()),
  configJson: z.string(),
  ruleset: z.string(),
  agentAddresses: z.array(z.string()),
  nodeFlags: z.array(z.string()),
  bunRuntime: z.object({ flags: z.array(z.string()), env: z.record(z.string(), z.string()) }),
  baselineCoverage: z.record(z.string(), z.string()),
  baselineSettings: z.record(z.string(), z.unknown()),
});
export type Rendered = z.infer<typeof Rendered>;

/**
 * Evaluates nix/ci/render.nix on settings named like the module's options (over the module's
 * defaults). Throws with Nix's own message when evaluation fails (a `throw` in nix/lib).
 */
export function renderAppliance(settings: Record<string, unknown>): Rendered {
  const result = run(
    [
      "nix-instantiate",
      "--eval",
      "--strict",
      "--json",
      join(NIX_DIR, "ci", "render.nix"),
      "--argstr",
      "settingsJson",
      JSON.stringify(settings),
    ],
    { env: NIX_ENV },
  );
  if (result.code !== 0) throw new Error(`nix-instantiate failed:\n${result.stderr}`);
  return Rendered.parse(JSON.parse(result.stdout));
}

/** A temp folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(dir: string, files: Record<string, string>): string[] {
  return Object.entries(files).map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  });
}

/** `nft -c -f`: the ruleset parses and the kernel would accept it (nothing is loaded). */
export function nftCheck(rulesetPath: string): ToolResult {
  return run(["nft", "-c", "-f", rulesetPath]);
}

/**
 * `systemd-analyze verify --root`, strict: systemd only warns (exit 0) on an unknown key or a
 * value it cannot parse, and ignores the line, so any warning counts as a failure here. The
 * units are named as installed in `root` (./evaluator.ts unitRoot), whose store holds the
 * programs ExecStart= names.
 */
export function verifyUnits(root: string, units: readonly string[]): ToolResult & { ok: boolean } {
  const result = run(["systemd-analyze", "verify", `--root=${root}`, ...units]);
  return { ...result, ok: result.code === 0 && result.stderr.trim() === "" };
}

/** The overall exposure score of `systemd-analyze security --offline=true` (0 best, 10 worst). */
export function exposureScore(root: string, unit: string): number {
  const result = run(["systemd-analyze", "security", "--offline=true", `--root=${root}`, unit]);
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.stdout);
  if (!match?.[1]) throw new Error(`no exposure score for ${unit}:\n${result.stderr}`);
  return Number(match[1]);
}

const SecretsTable = z.strictObject({
  dir: z.string(),
  ageKeyFile: z.string(),
  mode: z.string(),
  owner: z.literal("root"),
  group: z.literal("root"),
  files: z.record(
    z.string(),
    z.strictObject({ installed: z.string(), neededForUsers: z.boolean() }),
  ),
});

/** The appliance's secrets table (nix/lib/secrets.nix): each secret's file, mode and owner. */
export function secretsTable(): z.infer<typeof SecretsTable> {
  const result = run(
    [
      "nix-instantiate",
      "--eval",
      "--strict",
      "--json",
      "--expr",
      `import ${join(NIX_DIR, "lib", "secrets.nix")}`,
    ],
    { env: NIX_ENV },
  );
  if (result.code !== 0)
    throw new Error(`nix/lib/secrets.nix does not evaluate:\n${result.stderr}`);
  return SecretsTable.parse(JSON.parse(result.stdout));
}
