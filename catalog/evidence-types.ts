import { z } from "zod";

/**
 * What a runbook or a control captures as evidence. Every type records system state, names of
 * units and files, counts and hashes only, never log lines or file contents of the clinic's
 * systems: evidence lands in WORM storage that cannot delete PHI stored by mistake.
 */
export const EVIDENCE_TYPES = {
  alert: "The alert raised: code, severity, subject and a fixed message.",
  backup_snapshot: "Snapshot id, time, size and file count of a backup; no file names.",
  certificate_metadata: "Subject, serial, not-after and SHA-256 fingerprint of a certificate.",
  check_result: "A signed drift check result with its findings (expected and observed values).",
  cpu_load: "Load averages and the units using the most CPU, by unit name.",
  disk_usage: "Used and free space per mount point.",
  evidence_chain:
    "The signed, hash-chained evidence log with its receipts and WORM retention of six years.",
  exception_record: "The approved client exception in force: toggle, risk, approver and expiry.",
  healing_step: "Each runbook step with its action, phase, outcome and duration.",
  journal_usage: "journald disk usage and the time of the oldest entry kept.",
  luks_status: "Per volume: LUKS version, cipher, key size and whether it is open; never keys.",
  nftables_ruleset_hash: "SHA-256 of the loaded nftables ruleset and of the baseline ruleset.",
  nixos_generation:
    "Generation number, system closure hash and nixpkgs revision, before and after.",
  restore_test_result:
    "Files sampled, hashes matched, bytes restored and duration of a test restore.",
  unit_status: "ActiveState, SubState, restart count and exit status of named systemd units.",
} as const;

export type EvidenceType = keyof typeof EVIDENCE_TYPES;
export const EvidenceType = z.enum(
  Object.keys(EVIDENCE_TYPES) as [EvidenceType, ...EvidenceType[]],
);
