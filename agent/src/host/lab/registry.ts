import type { LabState } from "./state.ts";

/** A message journald received in the lab (kept in memory: the journal is runtime state). */
export interface LabJournalEntry {
  readonly realtimeUs: bigint;
  readonly identifier: string;
  readonly priority: number;
  readonly message: string;
  readonly pid: number;
  readonly seq: number;
}

export interface LabCommandContext {
  /** The program name as called (argv[0] without its folder), e.g. restic-clinic-data. */
  readonly program: string;
  /** The state as of this call; treat it as read-only unless you call `update`. */
  readonly state: LabState;
  readonly now: Date;
  readonly stdin: string | undefined;
  /** The lab host's own mutable runtime state (the journal). */
  readonly journal: LabJournalEntry[];
  /**
   * Changes the persistent state (and its file, when the lab host has one). Only the mutating
   * emulators (systemctl restart, nft -f, restic backup, ...) call it.
   */
  update(mutate: (state: LabState) => void): void;
}

export interface LabOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr?: string;
}

/** One emulated program: argv after the program name, printing what the real tool prints. */
export type LabCommand = (
  args: readonly string[],
  context: LabCommandContext,
) => LabOutput | Promise<LabOutput>;

/** A program that does not understand the arguments it was given, as GNU tools say it. */
export const usage = (program: string, args: readonly string[]): LabOutput => ({
  code: 1,
  stdout: "",
  stderr: `${program}: lab emulator does not support: ${args.join(" ")}\n`,
});
