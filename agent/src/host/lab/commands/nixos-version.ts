import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `nixos-version [--json | --revision]`. --json is Nix's builtins.toJSON of the version
 * attributes: compact, keys sorted, configurationRevision only when the flake set one.
 */
export const nixosVersion: LabCommand = (args, { state }) => {
  const { version, nixpkgs_revision, configuration_revision } = state.nixos;
  if (args.length === 0) return { code: 0, stdout: `${version} (Lab)\n` };
  if (args.length === 1 && args[0] === "--json") {
    const json = {
      ...(configuration_revision ? { configurationRevision: configuration_revision } : {}),
      nixosVersion: version,
      nixpkgsRevision: nixpkgs_revision,
    };
    return { code: 0, stdout: `${JSON.stringify(json)}\n` };
  }
  if (args.length === 1 && (args[0] === "--revision" || args[0] === "--hash")) {
    return { code: 0, stdout: `${nixpkgs_revision}\n` };
  }
  return usage("nixos-version", args);
};
