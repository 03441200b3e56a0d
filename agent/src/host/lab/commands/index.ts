import type { LabCommand } from "../registry.ts";
import { auditctl } from "./auditctl.ts";
import { cryptsetup } from "./cryptsetup.ts";
import { df } from "./df.ts";
import { journalctl } from "./journalctl.ts";
import { logger } from "./logger.ts";
import { lsblk } from "./lsblk.ts";
import { nft } from "./nft.ts";
import { nixosVersion } from "./nixos-version.ts";
import { restic } from "./restic.ts";
import { sshd } from "./sshd.ts";
import { systemctl } from "./systemctl.ts";

/**
 * The lab's programs, one emulator per file, sorted by name. Read-side emulators come with the
 * checks; the mutating ones (restarts, rebuilds, restores) with the healer, which passes them to
 * createLabHost({ commands }) or adds them here. A program not listed, or not in the registry of
 * programs the agent runs (agent/src/host/programs.json, from which NixOS builds each unit's
 * PATH), is not installed on the lab appliance (not_found), as on a real one.
 */
export const LAB_COMMANDS: Readonly<Record<string, LabCommand>> = {
  auditctl,
  cryptsetup,
  df,
  journalctl,
  logger,
  lsblk,
  nft,
  "nixos-version": nixosVersion,
  "restic-*": restic,
  sshd,
  systemctl,
};

/**
 * A program by name: an exact entry, or a `<prefix>-*` entry for a family of programs such as
 * restic's NixOS wrappers `restic-<job>` (the command sees the full name in its context).
 */
export function resolveLabCommand(
  program: string,
  commands: Readonly<Record<string, LabCommand>> = LAB_COMMANDS,
): LabCommand | undefined {
  if (Object.hasOwn(commands, program)) return commands[program];
  const family = /^([a-z]+)-[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.exec(program)?.[1];
  return family !== undefined && Object.hasOwn(commands, `${family}-*`)
    ? commands[`${family}-*`]
    : undefined;
}
