import type { ActionName } from "#catalog";
import { checkPasses, findingAbsent, findingPresent } from "./check.ts";
import type { ActionImpl } from "./context.ts";
import {
  backupRun,
  backupTestRestore,
  journaldVacuum,
  nftablesRestoreBaseline,
} from "./host-actions.ts";
import { collectGarbage, generationAvailable, rollback, switchGeneration } from "./nixos.ts";
import { alertRaise, certificateRenew } from "./notify.ts";
import { resetFailed, restart, start, unitActive } from "./systemd.ts";

/**
 * One implementation per catalog action: the type makes a missing one a compile error, so the
 * executor can run every runbook the catalog can express and nothing else.
 */
export const ACTION_IMPLEMENTATIONS: { readonly [K in ActionName]: ActionImpl } = {
  "alert.raise": alertRaise,
  "backup.run": backupRun,
  "backup.test_restore": backupTestRestore,
  "certificate.renew": certificateRenew,
  "check.finding_absent": findingAbsent,
  "check.finding_present": findingPresent,
  "check.passes": checkPasses,
  "journald.vacuum": journaldVacuum,
  "nftables.restore_baseline": nftablesRestoreBaseline,
  "nix.collect_garbage": collectGarbage,
  "nixos.generation_available": generationAvailable,
  "nixos.rollback": rollback,
  "nixos.switch_generation": switchGeneration,
  "systemd.reset_failed": resetFailed,
  "systemd.restart": restart,
  "systemd.start": start,
  "systemd.unit_active": unitActive,
};

export type {
  ActionContext,
  ActionImpl,
  OneCheckRunner,
  RunMemory,
  StepResult,
} from "./context.ts";
