/**
 * The six drift checks of the appliance and the finding kinds each may report. The agent's
 * checks (agent/src/checks/<check-id>/) must match this list exactly: a toggle or
 * runbook may only name a check and finding declared here, so every observation the baseline
 * relies on has an implementation to point at, and every implementation has a reason to exist.
 * Finding kinds use protocol's `Finding.code` shape (snake_case).
 */
export const DRIFT_CHECKS = {
  patching: {
    description:
      "The running NixOS generation is the one the control plane expects and recent enough, and " +
      "the declarative state it implies (accounts, sudo policy) is what actually runs.",
    findings: [
      "generation_mismatch",
      "generation_stale",
      "mutable_users_enabled",
      "root_password_set",
      "shared_account_detected",
      "sudo_policy_drift",
    ],
  },
  services: {
    description:
      "Critical systemd units are active, the effective sshd configuration matches the baseline, " +
      "no unneeded service runs, and disk and CPU leave the security services room to work.",
    findings: [
      "cpu_load_high",
      "disk_usage_high",
      "sshd_crypto_drift",
      "sshd_idle_timeout_drift",
      "sshd_log_level_drift",
      "sshd_password_auth_enabled",
      "sshd_root_login_permitted",
      "unexpected_service_enabled",
      "unit_failed",
      "unit_inactive",
    ],
  },
  backups: {
    description:
      "Backups ran recently and succeeded, go to the configured encrypted off-site repository with " +
      "the configured schedule and retention, and a test restore passed within its interval.",
    findings: [
      "backup_failed",
      "backup_integrity_failed",
      "backup_repository_drift",
      "backup_retention_drift",
      "backup_schedule_drift",
      "backup_stale",
      "restore_test_overdue",
    ],
  },
  firewall: {
    description:
      "The loaded nftables ruleset is the baseline ruleset of the running generation: inbound " +
      "default drop, SSH only from the management network, egress only to allowlisted peers.",
    findings: ["egress_policy_drift", "inbound_policy_drift", "ssh_exposed"],
  },
  logging: {
    description:
      "journald keeps persistent logs within its size budget, audit rules are loaded, the clock " +
      "is accurate enough to order audit records, and log-in events that need a person are raised.",
    findings: [
      "audit_rules_missing",
      "breakglass_login",
      "clock_offset_high",
      "journal_usage_high",
      "journald_inactive",
      "journald_not_persistent",
      "login_failures_high",
    ],
  },
  encryption: {
    description:
      "Persistent volumes are LUKS-encrypted and swap uses a random key; the agent's TLS settings " +
      "and its mTLS client certificate are strong and not about to expire.",
    findings: [
      "certificate_expiring",
      "luks_volume_unencrypted",
      "swap_unencrypted",
      "tls_version_weak",
    ],
  },
} as const satisfies Record<string, { description: string; findings: readonly string[] }>;

export type DriftCheckId = keyof typeof DRIFT_CHECKS;

/** The check ids, in the order the agent runs them. agent/src/checks/ must equal this list. */
export const DRIFT_CHECK_IDS = Object.keys(DRIFT_CHECKS) as [DriftCheckId, ...DriftCheckId[]];

export function isDriftCheckId(id: string): id is DriftCheckId {
  return Object.hasOwn(DRIFT_CHECKS, id);
}

/** Whether `check` may report `finding`; false for an unknown check. */
export function isDeclaredFinding(check: string, finding: string): boolean {
  return (
    isDriftCheckId(check) && (DRIFT_CHECKS[check].findings as readonly string[]).includes(finding)
  );
}
