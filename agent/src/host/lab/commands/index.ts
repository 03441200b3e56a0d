import type { LabCommand } from "../registry.ts";
import { cryptsetup } from "./cryptsetup.ts";
import { df } from "./df.ts";
import { journalctl } from "./journalctl.ts";
import { logger } from "./logger.ts";
import { lsblk } from "./lsblk.ts";
import { nft } from "./nft.ts";
import { nixosVersion } from "./nixos-version.ts";
import { resticFor } from "./restic.ts";
import { systemctl } from "./systemctl.ts";

/**
 * The lab's programs, one emulator per file, sorted by name. Read-side emulators come with the
 * checks; the mutating ones (restarts, rebuilds, restores) with the healer, which passes them to
 * createLabHost({ commands }) or adds them here. A program not listed is not installed on the
 * lab appliance (not_found), as on a real one.
 */
export const LAB_COMMANDS: Readonly<Record<string, LabCommand>> = {
  cryptsetup,
  df,
  journalctl,
  logger,
  lsblk,
  nft,
  "nixos-version": nixosVersion,
  systemctl,
};

/** restic's NixOS wrappers are named restic-<job>; each is the restic emulator for that job. */
export function resolveLabCommand(
  program: string,
  commands: Readonly<Record<string, LabCommand>> = LAB_COMMANDS,
): LabCommand | undefined {
  if (Object.hasOwn(commands, program)) return commands[program];
  const job = /^restic-([A-Za-z0-9][A-Za-z0-9_.@-]{0,63})$/.exec(program)?.[1];
  return job === undefined ? undefined : resticFor(job);
}
