import type { Order } from "#protocol";
import { applyDrift, type Drift } from "../host/lab/drift.ts";
import { LAB_BACKUP_JOB, type LabState } from "../host/lab/index.ts";

/**
 * One drift per shipped runbook, as a change to a clean lab appliance, shared by the healing
 * tests and the bench. The drift itself is the lab's own drift list (host/lab/drift.ts), applied
 * in place. `order` marks runbooks that have no local L1 rule for any drift the lab can show:
 * they run as a signed order instead (L2/L3).
 */
export interface HealingScenario {
  readonly check: string;
  mutate(state: LabState, now: Date): void;
  readonly order?: { readonly params: Order["params"]; readonly tier: Order["tier"] };
}

const GiB = 1024 ** 3;

/** Applies lab drift to `state` in place (for LabHost.update and the lab's `mutate`). */
export const drifted =
  (...drifts: Drift[]) =>
  (state: LabState, now: Date = new Date()): void => {
    Object.assign(
      state,
      drifts.reduce((s, d) => applyDrift(s, d, now), state),
    );
  };

export const crashed = (unit: string) => drifted({ kind: "service_failed", unit });

export const HEALING_SCENARIOS: Readonly<Record<string, HealingScenario>> = {
  "RB-BACKUP-001-failure": {
    check: "backups",
    mutate: drifted({ kind: "backup_stale", job: LAB_BACKUP_JOB, hours: 80 }),
  },
  "RB-CERT-001-expiry": {
    check: "encryption",
    mutate() {},
    order: { params: {}, tier: "L3" },
  },
  "RB-CPU-001-high": {
    check: "services",
    mutate: drifted({ kind: "cpu_load_high" }),
    order: { params: { unit: "chronyd.service" }, tier: "L2" },
  },
  "RB-DISK-001-full": {
    check: "services",
    mutate(s, now) {
      drifted({ kind: "disk_full", mount: "/" })(s, now);
      // What deleting old generations would free (the lab keeps store garbage as a number).
      s.healing.garbage_bytes = 120 * GiB;
    },
  },
  "RB-ENCRYPTION-001-luks": {
    check: "encryption",
    mutate: drifted({ kind: "luks_volume_closed", volume: "cryptdata" }),
  },
  "RB-FIREWALL-001-drift": { check: "firewall", mutate: drifted({ kind: "firewall_ssh_exposed" }) },
  "RB-LOGGING-001-journald": {
    check: "logging",
    mutate(s, now) {
      drifted({ kind: "journal_oversize" })(s, now);
      // Only the files outgrew the budget; the configured limit is intact (an unset limit is
      // configuration drift that vacuuming cannot cure: the healer then reverts and escalates).
      s.journald.system_max_use = "2G";
    },
  },
  "RB-PATCH-001-generation": {
    check: "patching",
    mutate: drifted({ kind: "generation_mismatch" }),
  },
  "RB-RESTORE-001-test": {
    check: "backups",
    mutate: drifted({ kind: "restore_test_overdue", job: LAB_BACKUP_JOB, days: 9 }),
  },
  "RB-SERVICE-001-crash": { check: "services", mutate: crashed("chronyd.service") },
};
