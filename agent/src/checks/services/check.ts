import { type Baseline, unitAllowed } from "#catalog";
import type { CheckFinding, DriftCheck, PreState } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import { firstLine, numericToggle, runTool, tenths, toggleValue } from "../support.ts";
import { showUnits, type UnitProperties, unitById } from "../systemd-show.ts";
import { evaluateSshd, parseSshdT } from "./sshd.ts";

/**
 * A unit restarted by systemd more often than this since it was last started by hand is
 * crash-looping even if it is active right now. The baseline has no toggle for it (yet).
 */
export const MAX_AUTOMATIC_RESTARTS = 3;

/** Pseudo and in-memory file systems: their fill level is not what the baseline limits. */
const PSEUDO_FS = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "efivarfs",
  "fusectl",
  "hugetlbfs",
  "mqueue",
  "nsfs",
  "overlay",
  "proc",
  "pstore",
  "ramfs",
  "securityfs",
  "squashfs",
  "sysfs",
  "tmpfs",
  "tracefs",
]);

export interface DfRow {
  readonly target: string;
  readonly fstype: string;
  readonly size: number;
  readonly used: number;
  readonly avail: number;
}

/** `df --block-size=1 --output=target,fstype,size,used,avail`; undefined when malformed. */
export function parseDf(text: string): DfRow[] | undefined {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.shift();
  if (!header || !/^Mounted on\s+Type\s+1B-blocks\s+Used\s+Avail\s*$/.test(header))
    return undefined;
  const rows: DfRow[] = [];
  for (const line of lines) {
    // The target may contain spaces; the last four columns never do.
    const m = /^(.*\S)\s+(\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s*$/.exec(line);
    if (!m) return undefined;
    const [, target, fstype, size, used, avail] = m as unknown as string[];
    if (size === "-" || used === "-" || avail === "-") continue; // no statfs figures (autofs)
    rows.push({
      target: target as string,
      fstype: fstype as string,
      size: Number(size),
      used: Number(used),
      avail: Number(avail),
    });
  }
  return rows;
}

/** /sys/devices/system/cpu/online, e.g. "0-3,6\n" -> 5. */
export function countCpus(text: string): number | undefined {
  let n = 0;
  for (const part of text.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n > 0 ? n : undefined;
}

/** The unit `unitAllowed` by the baseline with the highest CPUUsageNSec ("[not set]" skipped). */
export function busiestAllowedUnit(
  baseline: Baseline,
  units: readonly string[],
  blocks: UnitProperties[],
): string | undefined {
  let best: { unit: string; ns: number } | undefined;
  for (const unit of units) {
    const ns = Number(unitById(blocks, unit)?.get("CPUUsageNSec"));
    if (!Number.isFinite(ns) || !unitAllowed(baseline, unit)) continue;
    if (!best || ns > best.ns) best = { unit, ns };
  }
  return best?.unit;
}

export const services = {
  id: "services",
  title: "Critical services run, sshd is configured as the baseline says, disk and CPU leave room",
  citations: [
    "45 CFR 164.308(a)(1)(ii)(B)",
    "45 CFR 164.308(a)(5)(ii)(C)",
    "45 CFR 164.308(a)(7)(ii)(A)",
    "45 CFR 164.312(a)(2)(i)",
    "45 CFR 164.312(a)(2)(iii)",
    "45 CFR 164.312(b)",
    "45 CFR 164.312(d)",
    "45 CFR 164.312(e)(2)(i)",
    "45 CFR 164.312(e)(2)(ii)",
  ],
  severity: "high",
  findings: [
    "cpu_load_high",
    "disk_usage_high",
    "sshd_crypto_drift",
    "sshd_idle_timeout_drift",
    "sshd_log_level_drift",
    "sshd_password_auth_enabled",
    "sshd_root_login_permitted",
    "unit_failed",
    "unit_inactive",
  ],
  async run(host, context) {
    const { baseline } = context;
    if (!baseline) return skipped("no baseline: the agent has no catalog_dir");
    const listed =
      context.expected.critical_services ?? toggleValue(baseline, "critical-units-running");
    const units = Array.isArray(listed)
      ? listed.filter((u): u is string => typeof u === "string")
      : [];
    const minFree = numericToggle(baseline, "disk-free-min-percent");
    const maxLoad = numericToggle(baseline, "cpu-load-max");
    if (units.length === 0 || minFree === undefined || maxLoad === undefined) {
      return skipped(
        "the baseline lacks critical-units-running, disk-free-min-percent or cpu-load-max",
      );
    }
    const findings: CheckFinding<"services">[] = [];
    const state: PreState = {};

    const show = await showUnits(
      host,
      context,
      ["Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts", "CPUUsageNSec"],
      units,
    );
    if (!show.ok) return failed(show.reason);
    const blocks = show.units;
    for (const unit of units) {
      const u = unitById(blocks, unit);
      const active = u?.get("ActiveState");
      const restarts = Number(u?.get("NRestarts") ?? "x");
      if (!u || !active || !u.get("LoadState") || !Number.isInteger(restarts)) {
        return failed(`systemctl show did not describe ${unit}`);
      }
      state[`${unit}.active_state`] = active;
      state[`${unit}.sub_state`] = u.get("SubState") ?? null;
      state[`${unit}.restarts`] = restarts;
      if (u.get("LoadState") !== "loaded") {
        findings.push({
          code: "unit_inactive",
          subject: unit,
          expected: "loaded",
          observed: u.get("LoadState") ?? null,
        });
      } else if (active === "failed") {
        findings.push({
          code: "unit_failed",
          subject: unit,
          expected: "active",
          observed: `failed (${u.get("Result")})`,
        });
      } else if (active !== "active" && active !== "reloading") {
        findings.push({
          code: "unit_inactive",
          subject: unit,
          expected: "active",
          observed: active,
        });
      } else if (restarts > MAX_AUTOMATIC_RESTARTS) {
        findings.push({
          code: "unit_failed",
          subject: unit,
          expected: `at most ${MAX_AUTOMATIC_RESTARTS} automatic restarts`,
          observed: restarts,
          message: `${unit} is active but systemd restarted it ${restarts} times`,
        });
      }
    }

    // sshd's effective configuration (sshd -T reads the host keys: root, so the helper).
    const sshdT = await runTool(host, context, ["sshd", "-T"], 256 * 1024);
    if (!sshdT.ok) return failed(sshdT.reason);
    if (sshdT.code !== 0) return failed(`sshd -T exited ${sshdT.code}: ${firstLine(sshdT.stderr)}`);
    const settings = parseSshdT(sshdT.stdout);
    const sshdVerdict = settings ? evaluateSshd(baseline, settings) : { missing: "(all)" };
    if ("missing" in sshdVerdict) {
      return failed(
        `sshd -T did not print ${sshdVerdict.missing}: not its effective configuration`,
      );
    }
    findings.push(...sshdVerdict.findings);
    Object.assign(state, sshdVerdict.state);

    const df = await runTool(host, context, [
      "df",
      "--block-size=1",
      "--output=target,fstype,size,used,avail",
    ]);
    if (!df.ok) return failed(df.reason);
    // df exits 1 when one mount cannot be read but still prints the others: refuse, never guess.
    if (df.code !== 0) return failed(`df exited ${df.code}: ${firstLine(df.stderr)}`);
    const rows = parseDf(df.stdout)?.filter((r) => !PSEUDO_FS.has(r.fstype) && r.size > 0);
    if (!rows || rows.length === 0) return failed("df printed no file system it could measure");
    for (const r of rows) {
      const freePercent = (r.avail / (r.used + r.avail)) * 100;
      state[`disk:${r.target}.free_percent`] = tenths(freePercent);
      if (freePercent < minFree) {
        findings.push({
          code: "disk_usage_high",
          subject: r.target,
          expected: `at least ${minFree}% free`,
          observed: tenths(freePercent),
        });
      }
    }

    const loadavg = await host.readFile("/proc/loadavg", 4096);
    const online = await host.readFile("/sys/devices/system/cpu/online", 4096);
    const load15 = Number(loadavg?.split(" ")[2]);
    const cores = online === undefined ? undefined : countCpus(online);
    if (!Number.isFinite(load15) || cores === undefined) {
      return failed(
        "cannot read the load average or the CPU count (/proc/loadavg, /sys/devices/system/cpu/online)",
      );
    }
    const perCore = Math.round((load15 / cores) * 100) / 100;
    Object.assign(state, { cpu_cores: cores, load15_per_core: perCore });
    if (perCore >= maxLoad) {
      // The subject is the unit a runbook may act on (RB-CPU-001 takes it as its unit): the
      // baseline-allowed unit with the most CPU time; "load15" when none reports any.
      const top = busiestAllowedUnit(baseline, units, blocks);
      findings.push({
        code: "cpu_load_high",
        subject: top ?? "load15",
        expected: `below ${maxLoad} per core`,
        observed: perCore,
        message: top
          ? `15-minute load ${perCore} per core; ${top} has used the most CPU time of the allowlisted units`
          : `15-minute load ${perCore} per core; no allowlisted unit reports CPU time`,
      });
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"services">;
