import { createHash, randomUUID } from "node:crypto";
import type { Host } from "../../ports.ts";
import type { CheckContext, CheckFinding, DriftCheck, PreState } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import { firstLine, parseSize, runTool, toggleValue } from "../support.ts";
import { showUnits, unitById } from "../systemd-show.ts";

export const CANARY_TAG = "compliance-agent-canary";
/** How long the canary may take to show up in the journal, and how often we look. */
export const CANARY_WAIT_MS = 3000;
const CANARY_POLL_MS = 150;
const CANARY_READS = Math.ceil(CANARY_WAIT_MS / CANARY_POLL_MS);

/** [Journal] settings of a journald.conf; later assignments win, as in systemd. */
export function parseJournaldConf(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    const eq = line.indexOf("=");
    if (section === "Journal" && eq > 0)
      settings.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return settings;
}

/** `journalctl --disk-usage`: "Archived and active journals take up 412.0M in the file system." */
export function parseDiskUsage(text: string): number | undefined {
  const m = /take up (\d+(?:\.\d+)?[KMGTPE]?B?) in the file system/.exec(text);
  return m ? parseSize(m[1] as string) : undefined;
}

/**
 * Whether `journalctl -o json` output holds an entry whose MESSAGE is exactly `token`. Every
 * line must be a JSON object (journalctl prints nothing else with -q); undefined otherwise.
 * MESSAGE may be an array of bytes when it is not valid UTF-8.
 */
export function journalHasMessage(text: string, token: string): boolean | undefined {
  let found = false;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
    const message = (entry as { MESSAGE?: unknown }).MESSAGE;
    const textOf = Array.isArray(message)
      ? Buffer.from(message as number[]).toString("utf8")
      : message;
    // constant-time: not a secret (a marker the check itself wrote to the journal and reads back)
    if (textOf === token) found = true;
  }
  return found;
}

/** The NixOS unit that loads security.audit.rules into the kernel. */
export const AUDIT_RULES_UNIT = "audit-rules-nixos.service";

/**
 * `auditctl -l`: one rule per line in audit.rules syntax (each starts with "-"), or exactly
 * "No rules". Undefined for anything else.
 */
export function parseAuditRules(text: string): string[] | undefined {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 1 && lines[0] === "No rules") return [];
  // Printable text only: a rule cut short mid-line (or anything binary) is not a rule list.
  return lines.length > 0 && lines.every((l) => /^-[a-zA-Z] [\x20-\x7e]+$/.test(l))
    ? lines
    : undefined;
}

/**
 * `auditctl -s`: "key value" lines; the "enabled N" one (0 off, 1 on, 2 locked). Undefined when
 * it is absent or any line is not a printable "key value".
 */
export function parseAuditEnabled(text: string): number | undefined {
  const lines = text.split("\n").filter((l) => l !== "");
  if (!lines.every((l) => /^[a-z_]+ [\x20-\x7e]+$/.test(l))) return undefined;
  const m = /^enabled ([012])$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function auditState(
  host: Host,
  context: CheckContext,
): Promise<{ ok: true; rules: string[]; enabled: number } | { ok: false; reason: string }> {
  const list = await runTool(host, context, ["auditctl", "-l"], 1024 * 1024);
  if (!list.ok) return list;
  if (list.code !== 0) {
    return { ok: false, reason: `auditctl -l exited ${list.code}: ${firstLine(list.stderr)}` };
  }
  const rules = parseAuditRules(list.stdout);
  if (!rules) return { ok: false, reason: "auditctl -l printed something that is not a rule list" };
  const status = await runTool(host, context, ["auditctl", "-s"], 64 * 1024);
  if (!status.ok) return status;
  const enabled = status.code === 0 ? parseAuditEnabled(status.stdout) : undefined;
  if (enabled === undefined)
    return { ok: false, reason: "auditctl -s did not say whether auditing is enabled" };
  return { ok: true, rules, enabled };
}

export const logging = {
  id: "logging",
  title: "journald records now and keeps logs within budget; kernel audit rules are loaded",
  citations: ["45 CFR 164.308(a)(1)(ii)(D)", "45 CFR 164.312(b)"],
  severity: "high",
  findings: [
    "audit_rules_missing",
    "journal_usage_high",
    "journald_inactive",
    "journald_not_persistent",
  ],
  async run(host, context) {
    const { baseline } = context;
    if (!baseline) return skipped("no baseline: the agent has no catalog_dir");
    const wantStorage = toggleValue(baseline, "journald-persistent");
    const maxUseText = toggleValue(baseline, "journald-max-use");
    const maxUse = typeof maxUseText === "string" ? parseSize(maxUseText) : undefined;
    if (wantStorage !== "persistent" || maxUse === undefined) {
      return skipped("the baseline lacks journald-persistent or a readable journald-max-use");
    }
    const findings: CheckFinding<"logging">[] = [];
    const state: PreState = {};

    const show = await showUnits(
      host,
      context,
      ["Id", "LoadState", "ActiveState", "SubState"],
      ["systemd-journald.service"],
    );
    if (!show.ok) return failed(show.reason);
    const unit = unitById(show.units, "systemd-journald.service");
    const active = unit?.get("ActiveState");
    if (!active) return failed("systemctl show did not describe systemd-journald.service");
    state.journald_active_state = active;
    if (active !== "active") {
      findings.push({
        code: "journald_inactive",
        subject: "systemd-journald.service",
        expected: "active",
        observed: active,
      });
    }

    // The canary: a unique message written now must be readable from the journal within seconds.
    const token = `canary ${randomUUID()}`;
    const since = Math.floor(context.now().getTime() / 1000) - 1;
    const started = performance.now();
    const wrote = await runTool(
      host,
      context,
      ["logger", "-t", CANARY_TAG, "--", token],
      64 * 1024,
    );
    if (!wrote.ok) return failed(wrote.reason);
    let seenMs: number | null = null;
    if (wrote.code === 0) {
      // Bounded by attempts, not by the clock, so a test clock cannot make it spin.
      for (let attempt = 1; ; attempt++) {
        const read = await runTool(host, context, [
          "journalctl",
          "-q",
          "--no-pager",
          "-o",
          "json",
          "-t",
          CANARY_TAG,
          `--since=@${since}`,
          "-n",
          "100",
        ]);
        if (!read.ok) return failed(read.reason);
        if (read.code !== 0)
          return failed(`journalctl exited ${read.code}: ${firstLine(read.stderr)}`);
        const hit = journalHasMessage(read.stdout, token);
        if (hit === undefined)
          return failed("journalctl -o json printed a line that is not a JSON entry");
        if (hit) {
          seenMs = Math.round(performance.now() - started);
          break;
        }
        if (attempt >= CANARY_READS || context.signal.aborted) break;
        await context.sleep(CANARY_POLL_MS, context.signal);
      }
    }
    state.canary_written = wrote.code === 0;
    state.canary_seen_ms = seenMs;
    if (seenMs === null) {
      findings.push({
        code: "journald_inactive",
        subject: "canary",
        expected: `found within ${CANARY_WAIT_MS} ms`,
        observed: wrote.code === 0 ? "not found" : `logger exited ${wrote.code}`,
        message: "a message written to the journal now could not be read back",
      });
    }

    // Storage and retention, as configured (NixOS writes every setting into journald.conf).
    const conf = await host.readFile("/etc/systemd/journald.conf", 256 * 1024);
    const settings = parseJournaldConf(conf ?? "");
    const storage = settings.get("Storage") ?? "auto";
    const journalDir = await host.stat("/var/log/journal");
    const persistent =
      storage === "persistent" || (storage === "auto" && journalDir?.kind === "directory");
    Object.assign(state, { storage, var_log_journal: journalDir?.kind ?? null });
    if (!persistent) {
      findings.push({
        code: "journald_not_persistent",
        subject: "Storage",
        expected: "persistent",
        observed: storage,
      });
    }
    const configured = settings.get("SystemMaxUse");
    const configuredBytes = configured === undefined ? undefined : parseSize(configured);
    state.system_max_use = configured ?? null;
    if (configuredBytes === undefined || configuredBytes > maxUse) {
      findings.push({
        code: "journal_usage_high",
        subject: "SystemMaxUse",
        expected: `at most ${maxUseText}`,
        observed: configured ?? "unset",
      });
    }
    const usage = await runTool(host, context, ["journalctl", "--disk-usage"], 64 * 1024);
    if (!usage.ok) return failed(usage.reason);
    const used = usage.code === 0 ? parseDiskUsage(usage.stdout) : undefined;
    if (used === undefined) return failed("journalctl --disk-usage did not say how much it uses");
    state.journal_bytes = used;
    if (used > maxUse) {
      findings.push({
        code: "journal_usage_high",
        subject: "journal",
        expected: `at most ${maxUseText}`,
        observed: used,
      });
    }
    // Kernel auditing: rules loaded and auditing on. The subject is the unit that loads the
    // rules, which RB-SERVICE-001 restarts.
    const audit = await auditState(host, context);
    if (!audit.ok) return failed(audit.reason);
    Object.assign(state, {
      audit_enabled: audit.enabled,
      audit_rules: audit.rules.length,
      audit_rules_sha256: createHash("sha256").update(audit.rules.join("\n")).digest("hex"),
    });
    if (audit.rules.length === 0 || audit.enabled === 0) {
      findings.push({
        code: "audit_rules_missing",
        subject: AUDIT_RULES_UNIT,
        expected: "audit rules loaded and auditing enabled",
        observed: `${audit.rules.length} rules, enabled ${audit.enabled}`,
      });
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"logging">;
