import { z } from "zod";
import { PARAM_KINDS, type ParamKind } from "./param-kinds.ts";

/**
 * The closed allowlist of what a runbook step can do. Each action is one typed operation the
 * agent implements with argv through its Host port; no action takes a command line. Keep the
 * registry sorted: a conformance test checks it, and every action needs an example and an
 * invalid-params fixture in actions.test.ts.
 *
 * effect: `read_only` actions observe and pass or fail (preconditions, verification, health
 * gates); `notify` actions only tell a person; `changes_host` actions change the appliance.
 * disruptive: the action can interrupt the clinic (restarts many services at once), so a runbook
 * using it must declare `disruptive: true` and waits for the maintenance window.
 */
export type ActionEffect = "read_only" | "notify" | "changes_host";

export interface ActionSpec {
  readonly description: string;
  readonly effect: ActionEffect;
  readonly disruptive: boolean;
  readonly params: Readonly<Record<string, ParamKind>>;
  readonly example: Readonly<Record<string, string | number | boolean>>;
}

export const ACTIONS = {
  "alert.raise": {
    description: "Record an alert as evidence and send it to the operator. Changes nothing.",
    effect: "notify",
    disruptive: false,
    params: { code: "alert_code", severity: "severity", message: "text" },
    example: { code: "disk_full", severity: "high", message: "The data volume is almost full." },
  },
  "backup.run": {
    description: "Start the backup job now (its restic-backups-<job> unit) and wait for it to end.",
    effect: "changes_host",
    disruptive: false,
    params: { job: "backup_job" },
    example: { job: "clinic-data" },
  },
  "backup.test_restore": {
    description:
      "Restore a random sample of files from the latest snapshot into a private scratch " +
      "directory, compare their hashes with the snapshot, then delete the scratch copy.",
    effect: "changes_host",
    disruptive: false,
    params: { job: "backup_job", sample_files: "sample_size" },
    example: { job: "clinic-data", sample_files: 50 },
  },
  "certificate.renew": {
    description:
      "Generate a new key on the appliance, send a CSR over the current mTLS session and install " +
      "the issued certificate once it verifies; the old certificate stays until then.",
    effect: "changes_host",
    disruptive: false,
    params: { certificate: "certificate" },
    example: { certificate: "agent-mtls" },
  },
  "check.finding_absent": {
    description: "Run the drift check; pass when it does not report the finding.",
    effect: "read_only",
    disruptive: false,
    params: { check: "check", finding: "finding" },
    example: { check: "services", finding: "disk_usage_high" },
  },
  "check.finding_present": {
    description: "Run the drift check; pass when it still reports the finding (no stale healing).",
    effect: "read_only",
    disruptive: false,
    params: { check: "check", finding: "finding" },
    example: { check: "encryption", finding: "certificate_expiring" },
  },
  "check.passes": {
    description: "Run the drift check; pass when its status is pass.",
    effect: "read_only",
    disruptive: false,
    params: { check: "check" },
    example: { check: "firewall" },
  },
  "journald.vacuum": {
    description:
      "Delete the oldest archived journal files until journald uses at most max_use. The active " +
      "journal file is never touched.",
    effect: "changes_host",
    disruptive: false,
    params: { max_use: "size" },
    example: { max_use: "2G" },
  },
  "nftables.restore_baseline": {
    description:
      "Atomically load the baseline nftables ruleset shipped in the running generation, replacing " +
      "whatever ruleset is loaded.",
    effect: "changes_host",
    disruptive: false,
    params: {},
    example: {},
  },
  "nix.collect_garbage": {
    description:
      "Delete system generations beyond the newest keep (never the running or the expected one), " +
      "then delete store paths nothing refers to.",
    effect: "changes_host",
    disruptive: false,
    params: { keep: "generation_count" },
    example: { keep: 5 },
  },
  "nixos.generation_available": {
    description: "Pass when the generation's system closure is complete in the Nix store.",
    effect: "read_only",
    disruptive: false,
    params: { generation: "generation" },
    example: { generation: "expected" },
  },
  "nixos.rollback": {
    description:
      "Switch back to the generation that ran when this runbook started; a no-op when no switch " +
      "of this runbook changed it.",
    effect: "changes_host",
    disruptive: true,
    params: {},
    example: {},
  },
  "nixos.switch_generation": {
    description:
      "Switch the running system to the generation and make it the boot default, remembering the " +
      "previous one for nixos.rollback.",
    effect: "changes_host",
    disruptive: true,
    params: { generation: "generation" },
    example: { generation: "expected" },
  },
  "systemd.reset_failed": {
    description: "Clear the failed state and start-rate counter of the unit.",
    effect: "changes_host",
    disruptive: false,
    params: { unit: "unit" },
    example: { unit: "chronyd.service" },
  },
  "systemd.restart": {
    description: "Restart the unit and wait until it is active or has failed.",
    effect: "changes_host",
    disruptive: false,
    params: { unit: "unit" },
    example: { unit: "sshd.service" },
  },
  "systemd.start": {
    description: "Start the unit if it is not running and wait until it is active or has failed.",
    effect: "changes_host",
    disruptive: false,
    params: { unit: "unit" },
    example: { unit: "auditd.service" },
  },
  "systemd.unit_active": {
    description: "Pass when the unit is active (for a oneshot unit: exited successfully).",
    effect: "read_only",
    disruptive: false,
    params: { unit: "unit" },
    example: { unit: "systemd-journald.service" },
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;
export const ACTION_NAMES = Object.keys(ACTIONS) as [ActionName, ...ActionName[]];

export function isActionName(name: string): name is ActionName {
  return Object.hasOwn(ACTIONS, name);
}

const schemas = new Map<ActionName, z.ZodObject>();

/** The literal parameter schema of an action: a strict object built from its param kinds. */
export function actionParamsSchema(name: ActionName): z.ZodObject {
  let schema = schemas.get(name);
  if (schema === undefined) {
    const spec: ActionSpec = ACTIONS[name];
    const shape = Object.fromEntries(
      Object.entries(spec.params).map(([param, kind]) => [param, PARAM_KINDS[kind].schema]),
    );
    schema = z.strictObject(shape);
    schemas.set(name, schema);
  }
  return schema;
}
