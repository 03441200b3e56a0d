import { cleanLabState } from "../clean-state.ts";
import type { LabCommand, LabCommandContext, LabOutput } from "../registry.ts";
import type { LabState } from "../state.ts";
import { failsOnce } from "./faults.ts";

/**
 * systemctl's mutating verbs on the lab appliance: restart, start, reset-failed. Messages and exit
 * codes are systemctl's own (5: unit not loaded, 1: the job failed). Starting a restic backup unit
 * takes a snapshot; starting compliance-restore-test@<files>-<job>.service records a test restore
 * (the template unit the NixOS module provides). Everything else goes to the read-side emulator.
 */
const RESTORE_TEST = /^compliance-restore-test@([1-9][0-9]{0,3})-([a-z][a-z0-9-]{0,62})\.service$/;
const AUDIT_RULES_UNIT = "audit-rules-nixos.service";
const BACKUP = /^restic-backups-([a-z][a-z0-9-]{0,62})\.service$/;

export function systemctlMutations(base: LabCommand | undefined): LabCommand {
  return (args, ctx) => {
    const [verb, unit, ...rest] = args;
    if (
      (verb === "restart" || verb === "start" || verb === "reset-failed") &&
      unit &&
      rest.length === 0
    ) {
      return mutate(verb, unit, ctx);
    }
    return base
      ? base(args, ctx)
      : { code: 1, stdout: "", stderr: `systemctl: unsupported in the lab: ${args.join(" ")}\n` };
  };
}

function mutate(
  verb: "restart" | "start" | "reset-failed",
  unit: string,
  ctx: LabCommandContext,
): LabOutput {
  const restore = RESTORE_TEST.exec(unit);
  if (restore && verb === "start")
    return restoreTest(ctx, restore[2] as string, Number(restore[1]));
  const known = ctx.state.units[unit];
  if (known?.load_state !== "loaded") {
    return { code: 5, stdout: "", stderr: `Failed to ${verb} ${unit}: Unit ${unit} not found.\n` };
  }
  const now = ctx.now.toISOString();
  if (verb === "reset-failed") {
    ctx.update((s) => {
      const u = s.units[unit] as LabState["units"][string];
      if (u.active_state === "failed")
        Object.assign(u, { active_state: "inactive", sub_state: "dead" });
      Object.assign(u, { result: "success", n_restarts: 0 });
    });
    return { code: 0, stdout: "" };
  }
  if (failsOnce(ctx, `systemctl ${verb}`) || failsOnce(ctx, unit)) {
    ctx.update((s) => fail(s.units[unit] as LabState["units"][string], now));
    return jobFailed(unit);
  }
  const backup = BACKUP.exec(unit);
  if (backup) {
    const job = ctx.state.backups[backup[1] as string];
    if (!job?.repository_reachable) {
      ctx.update((s) => fail(s.units[unit] as LabState["units"][string], now));
      return jobFailed(unit);
    }
    ctx.update((s) => {
      const digest = Buffer.from(`${unit}-${now}`).toString("hex").padEnd(64, "0").slice(0, 64);
      s.backups[backup[1] as string]?.snapshots.push({
        id: digest,
        time: now,
        tree: digest.split("").reverse().join(""),
        paths: ["/var/lib/clinic"],
      });
      Object.assign(s.units[unit] as object, {
        active_state: "inactive",
        sub_state: "dead",
        result: "success",
        changed_at: now,
      });
    });
    return { code: 0, stdout: "" };
  }
  const unstick = ctx.state.healing.unstick.includes(unit);
  ctx.update((s) => {
    const u = s.units[unit] as LabState["units"][string];
    if (unstick) {
      // It starts, then dies at once: systemctl already returned success.
      fail(u, now);
      return;
    }
    const oneshot = u.type === "oneshot";
    Object.assign(u, {
      active_state: "active",
      sub_state: oneshot ? "exited" : "running",
      result: "success",
      main_pid: oneshot ? 0 : 1000 + Math.floor(Math.random() * 30000),
      changed_at: now,
    });
    if (unit === "systemd-journald.service") s.journald.accepts_messages = true;
    // NixOS's audit-rules-nixos.service loads the generation's rules and enables auditing.
    if (unit === AUDIT_RULES_UNIT) s.audit = cleanLabState(ctx.now).audit;
  });
  return { code: 0, stdout: "" };
}

function fail(u: LabState["units"][string], now: string): void {
  Object.assign(u, {
    active_state: "failed",
    sub_state: "failed",
    result: "exit-code",
    main_pid: 0,
    n_restarts: u.n_restarts + 1,
    changed_at: now,
  });
}

const jobFailed = (unit: string): LabOutput => ({
  code: 1,
  stdout: "",
  stderr: `Job for ${unit} failed because the control process exited with error code.\nSee "systemctl status ${unit}" and "journalctl -xeu ${unit}" for details.\n`,
});

function restoreTest(ctx: LabCommandContext, job: string, files: number): LabOutput {
  const unit = `compliance-restore-test@${files}-${job}.service`;
  const backup = ctx.state.backups[job];
  const latest = backup?.snapshots.at(-1);
  if (!backup || !latest || !backup.repository_reachable || failsOnce(ctx, "restore-test")) {
    return jobFailed(unit);
  }
  ctx.update((s) => {
    s.backups[job]?.restore_tests.push({
      snapshot_id: latest.id,
      finished_at: ctx.now.toISOString(),
      result: "passed",
      files_checked: files,
    });
  });
  return { code: 0, stdout: "" };
}
