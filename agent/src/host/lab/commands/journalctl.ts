import { createHash } from "node:crypto";
import type { LabCommand, LabJournalEntry } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `journalctl --disk-usage` and `journalctl -o json [-t ID] [--since @SECONDS] [-n N]
 * [--no-pager] [-q]`: one JSON object per line, every field a string, the fields journald
 * stores for a syslog message (as recorded in checks/logging/fixtures/journalctl-canary.json).
 * The entries are the ones the lab's journald accepted (see logger.ts).
 */
export const journalctl: LabCommand = (args, { state, journal }) => {
  if (args.length === 1 && args[0] === "--disk-usage") {
    const size = formatBytes(state.journald.disk_usage_bytes);
    return {
      code: 0,
      stdout: `Archived and active journals take up ${size} in the file system.\n`,
    };
  }
  let json = false;
  let identifier: string | undefined;
  let sinceUs = 0n;
  let lines = Number.POSITIVE_INFINITY;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = () => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : (args[++i] ?? ""));
    if (a === "-o" || a.startsWith("--output")) json = value() === "json";
    else if (a === "-t" || a.startsWith("--identifier")) identifier = value();
    else if (a.startsWith("--since")) {
      const v = value();
      if (!/^@\d+$/.test(v))
        return { code: 1, stdout: "", stderr: `Failed to parse timestamp: ${v}\n` };
      sinceUs = BigInt(v.slice(1)) * 1_000_000n;
    } else if (a === "-n" || a.startsWith("--lines")) lines = Number(value());
    else if (a === "--no-pager" || a === "-q" || a === "--quiet") continue;
    else return usage("journalctl", args);
  }
  if (!json) return usage("journalctl", args);
  const hits = journal.filter(
    (e) => (identifier === undefined || e.identifier === identifier) && e.realtimeUs >= sinceUs,
  );
  const shown = Number.isFinite(lines) ? hits.slice(-lines) : hits;
  const host = state.hostname;
  return { code: 0, stdout: shown.map((e) => `${JSON.stringify(render(e, host))}\n`).join("") };
};

const BOOT_ID = createHash("sha256").update("lab-boot").digest("hex").slice(0, 32);
const MACHINE_ID = createHash("sha256").update("lab-machine").digest("hex").slice(0, 32);

function render(e: LabJournalEntry, hostname: string): Record<string, string> {
  const seq = e.seq.toString(16);
  return {
    __CURSOR: `s=${MACHINE_ID};i=${seq};b=${BOOT_ID};m=${(e.realtimeUs % 10_000_000_000n).toString(16)};t=${e.realtimeUs.toString(16)};x=${seq}`,
    __REALTIME_TIMESTAMP: e.realtimeUs.toString(),
    __MONOTONIC_TIMESTAMP: (e.realtimeUs % 10_000_000_000n).toString(),
    _BOOT_ID: BOOT_ID,
    PRIORITY: String(e.priority),
    SYSLOG_FACILITY: "1",
    SYSLOG_IDENTIFIER: e.identifier,
    MESSAGE: e.message,
    _PID: String(e.pid),
    _UID: "990",
    _GID: "990",
    _COMM: "logger",
    _TRANSPORT: "syslog",
    _HOSTNAME: hostname,
    _MACHINE_ID: MACHINE_ID,
    _SOURCE_REALTIME_TIMESTAMP: (e.realtimeUs - 4500n).toString(),
    SYSLOG_TIMESTAMP: syslogTimestamp(e.realtimeUs),
    _RUNTIME_SCOPE: "system",
  };
}

/** RFC 3164's "Nov 25 14:23:55 " as logger sends it (journald keeps the trailing space). */
function syslogTimestamp(realtimeUs: bigint): string {
  const d = new Date(Number(realtimeUs / 1000n));
  const month = d.toUTCString().slice(8, 11);
  return `${month} ${String(d.getUTCDate()).padStart(2, " ")} ${d.toISOString().slice(11, 19)} `;
}

/** systemd's format_bytes: one decimal, binary multiples, B below 1 KiB. */
export function formatBytes(bytes: number): string {
  const units = ["K", "M", "G", "T", "P"];
  let value = bytes;
  let unit = "B";
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit === "B" ? `${bytes}B` : `${(Math.floor(value * 10) / 10).toFixed(1)}${unit}`;
}
