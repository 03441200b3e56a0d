/** The lab appliance: a simulated NixOS host behind the Host port, with injectable drift. */
export {
  cleanLabState,
  hex64,
  LAB_BACKUP_JOB,
  LAB_FIREWALL_BASELINE_PATH,
  LAB_LUKS_VOLUMES,
  labStorePath,
} from "./clean-state.ts";
export { LAB_COMMANDS, resolveLabCommand } from "./commands/index.ts";
export { applyDrift, DRIFT_KINDS, Drift, type DriftKind, injectDrift } from "./drift.ts";
export { createLabHost, type LabHost, type LabHostOptions } from "./lab-host.ts";
export type { LabCommand, LabCommandContext, LabJournalEntry, LabOutput } from "./registry.ts";
export { LabState } from "./state.ts";
export { readLabStateFile, writeLabStateFile } from "./state-file.ts";
