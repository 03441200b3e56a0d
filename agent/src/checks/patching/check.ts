import { z } from "zod";
import type { CheckFinding, DriftCheck, PreState } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import { DAY_MS, firstLine, numericToggle, runTool } from "../support.ts";

/**
 * nixos-version --json: Nix's builtins.toJSON of the version attributes. Lenient about extra
 * keys (newer NixOS may add some), strict about the ones we read.
 */
const NixosVersionJson = z.looseObject({
  nixosVersion: z.string().min(1),
  nixpkgsRevision: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional(),
  configurationRevision: z.string().optional(),
});

/** 26.05.20261115.abcdef0 -> the nixpkgs revision's commit date (UTC midnight). */
export function versionDate(version: string): number | undefined {
  const m = /^\d{2}\.\d{2}(?:pre[^.]*)?\.(\d{4})(\d{2})(\d{2})\.[0-9a-z]+$/.exec(version);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(ms) ? undefined : ms;
}

export const patching = {
  id: "patching",
  title: "The approved NixOS generation is running and recent",
  citations: ["45 CFR 164.308(a)(1)(ii)(B)", "45 CFR 164.308(a)(5)(ii)(B)"],
  severity: "high",
  findings: ["generation_mismatch", "generation_stale"],
  async run(host, context) {
    const { baseline, expected } = context;
    if (!baseline) return skipped("no baseline: the agent has no catalog_dir");
    const maxAgeDays = numericToggle(baseline, "patch-age-max-days");
    if (maxAgeDays === undefined) return skipped("the baseline has no patch-age-max-days toggle");
    if (!expected.expected_system) {
      return skipped(
        "config host.expected_system is not set: nothing to compare the generation with",
      );
    }
    const current = await host.readlink("/run/current-system");
    const booted = await host.readlink("/run/booted-system");
    if (!current || !booted) {
      return failed(
        `cannot read ${current ? "/run/booted-system" : "/run/current-system"}: is this NixOS?`,
      );
    }
    const run = await runTool(host, context, ["nixos-version", "--json"], 64 * 1024);
    if (!run.ok) return failed(run.reason);
    if (run.code !== 0)
      return failed(`nixos-version --json exited ${run.code}: ${firstLine(run.stderr)}`);
    let parsed: z.infer<typeof NixosVersionJson>;
    try {
      parsed = NixosVersionJson.parse(JSON.parse(run.stdout));
    } catch {
      return failed("nixos-version --json printed something that is not its JSON");
    }
    const date = versionDate(parsed.nixosVersion);
    if (date === undefined) {
      return failed(
        `cannot tell the nixpkgs date from version ${parsed.nixosVersion.slice(0, 64)}`,
      );
    }
    const ageDays = Math.floor((context.now().getTime() - date) / DAY_MS);
    const state: PreState = {
      current_system: current,
      booted_system: booted,
      expected_system: expected.expected_system,
      nixos_version: parsed.nixosVersion,
      nixpkgs_revision: parsed.nixpkgsRevision ?? null,
      configuration_revision: parsed.configurationRevision ?? null,
      nixpkgs_age_days: ageDays,
    };
    const findings: CheckFinding<"patching">[] = [];
    for (const [link, target] of [
      ["/run/current-system", current],
      ["/run/booted-system", booted],
    ] as const) {
      if (target !== expected.expected_system) {
        findings.push({
          code: "generation_mismatch",
          subject: link,
          expected: expected.expected_system,
          observed: target,
        });
      }
    }
    if (ageDays > maxAgeDays) {
      findings.push({
        code: "generation_stale",
        subject: "nixpkgs",
        expected: `at most ${maxAgeDays} days old`,
        observed: ageDays,
        message: `nixpkgs of ${parsed.nixosVersion} is ${ageDays} days old`,
      });
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"patching">;
