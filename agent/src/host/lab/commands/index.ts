import type { LabCommand } from "../registry.ts";

/**
 * The lab's programs, one emulator per file, sorted by name. Read-side emulators come with the
 * checks; the mutating ones (restarts, rebuilds, restores) with the healer. A program not listed
 * here is not installed on the lab appliance (not_found), as on a real one.
 */
export const LAB_COMMANDS: Readonly<Record<string, LabCommand>> = {};

/** restic's NixOS wrappers are named restic-<job>; each is the restic emulator for that job. */
export function resolveLabCommand(
  program: string,
  commands: Readonly<Record<string, LabCommand>> = LAB_COMMANDS,
): LabCommand | undefined {
  if (Object.hasOwn(commands, program)) return commands[program];
  return undefined;
}
