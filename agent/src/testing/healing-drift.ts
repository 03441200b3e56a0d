import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Order } from "#protocol";
import { LAB_BACKUP_JOB, type LabState } from "../host/lab/index.ts";

/**
 * One drift per shipped runbook, as a change to a clean lab appliance, shared by the healing
 * tests and the bench. `order` marks runbooks that have no local L1 rule for any drift the lab can
 * show: they run as a signed order instead (L2/L3).
 */
export interface HealingScenario {
  readonly check: string;
  mutate(state: LabState, now: Date): void;
  readonly order?: { readonly params: Order["params"]; readonly tier: Order["tier"] };
}

const GiB = 1024 ** 3;
const HOUR = 3_600_000;
const hoursAgo = (now: Date, hours: number) => new Date(now.getTime() - hours * HOUR).toISOString();
const SSH_EXPOSED = JSON.parse(
  readFileSync(
    join(import.meta.dirname, "..", "checks", "firewall", "fixtures", "ssh-exposed.json"),
    "utf8",
  ),
) as LabState["nftables"];

export const crashed = (unit: string) => (state: LabState) =>
  Object.assign(state.units[unit] as object, {
    active_state: "failed",
    sub_state: "failed",
    result: "exit-code",
  });

export const HEALING_SCENARIOS: Readonly<Record<string, HealingScenario>> = {
  "RB-BACKUP-001-failure": {
    check: "backups",
    mutate(s, now) {
      const job = s.backups[LAB_BACKUP_JOB];
      if (job)
        job.snapshots = job.snapshots.slice(0, 1).map((x) => ({ ...x, time: hoursAgo(now, 80) }));
    },
  },
  "RB-CERT-001-expiry": {
    check: "encryption",
    mutate() {},
    order: { params: {}, tier: "L3" },
  },
  "RB-CPU-001-high": {
    check: "services",
    mutate(s) {
      Object.assign(s.cpu, { load1: 40, load5: 40, load15: 40 });
    },
    order: { params: { unit: "chronyd.service" }, tier: "L2" },
  },
  "RB-DISK-001-full": {
    check: "services",
    mutate(s) {
      const root = s.mounts.find((m) => m.target === "/");
      if (root) root.used_bytes = root.size_bytes - 10 * GiB;
      s.healing.garbage_bytes = 120 * GiB;
    },
  },
  "RB-ENCRYPTION-001-luks": {
    check: "encryption",
    mutate(s) {
      (s.luks.cryptdata as { active: boolean }).active = false;
    },
  },
  "RB-FIREWALL-001-drift": {
    check: "firewall",
    mutate(s) {
      s.nftables = structuredClone(SSH_EXPOSED);
    },
  },
  "RB-LOGGING-001-journald": {
    check: "logging",
    mutate(s) {
      s.journald.disk_usage_bytes = 5 * GiB;
    },
  },
  "RB-PATCH-001-generation": {
    check: "patching",
    // Someone switched the running system back to an older generation (booted is still right).
    mutate(s) {
      s.nixos.current = 2;
    },
  },
  "RB-RESTORE-001-test": {
    check: "backups",
    mutate(s, now) {
      const job = s.backups[LAB_BACKUP_JOB];
      if (job)
        job.restore_tests = job.restore_tests.map((t) => ({
          ...t,
          finished_at: hoursAgo(now, 24 * 9),
        }));
    },
  },
  "RB-SERVICE-001-crash": { check: "services", mutate: crashed("chronyd.service") },
};
