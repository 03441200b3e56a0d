import registry from "./programs.json" with { type: "json" };

/**
 * The one registry of the programs the agent's checks, actions and helpers run by name
 * (programs.json), per systemd unit, with the nixpkgs package that provides each. The NixOS
 * module builds every unit's PATH from it (nix/lib/programs.nix) and CI resolves each program on
 * the PATH NixOS renders (nix/ci/nixos-units.test.ts); the lab appliance has exactly these
 * programs, so a check or action that runs anything else fails its tests as it would fail on a
 * real appliance.
 */
export const PROGRAM_REGISTRY: Readonly<
  Record<
    string,
    Readonly<Record<string, { readonly package: string; readonly usedBy: readonly string[] }>>
  >
> = registry.units;

/** Every program any unit may run by name. */
export const REGISTERED_PROGRAMS: ReadonlySet<string> = new Set(
  Object.values(PROGRAM_REGISTRY).flatMap((programs) => Object.keys(programs)),
);

/**
 * Whether argv[0] is found the way the appliance finds it: a path runs as given (switch-to-
 * configuration of a system profile); a name must be in the registry, where NixOS's per-job
 * restic wrappers (restic-<job>, in the system profile) count as restic.
 */
export function isRegisteredProgram(argv0: string): boolean {
  if (argv0.includes("/")) return true;
  return REGISTERED_PROGRAMS.has(/^restic-[a-z][a-z0-9-]*$/.test(argv0) ? "restic" : argv0);
}
