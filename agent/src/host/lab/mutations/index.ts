import type { LabCommand } from "../registry.ts";
import { journalctlMutations } from "./journalctl.ts";
import { nftMutations } from "./nft.ts";
import { nixEnv, nixStore, switchToConfiguration } from "./nix.ts";
import { systemctlMutations } from "./systemctl.ts";

/**
 * The healer's emulators layered over the read-side ones: each handles its mutating arguments and
 * hands everything else to the program's read-side emulator.
 */
export function withHealingCommands(
  commands: Readonly<Record<string, LabCommand>>,
): Record<string, LabCommand> {
  return {
    ...commands,
    journalctl: journalctlMutations(commands.journalctl),
    nft: nftMutations(commands.nft),
    "nix-env": nixEnv,
    "nix-store": nixStore,
    "switch-to-configuration": switchToConfiguration,
    systemctl: systemctlMutations(commands.systemctl),
  };
}
