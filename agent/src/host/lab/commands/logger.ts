import type { LabCommand } from "../registry.ts";

let pid = 20_000;
let seq = 1;

/**
 * util-linux `logger [-t TAG] [-p PRIO] [--] MESSAGE...`: sends one syslog message to journald.
 * The lab's journald stores it only while its unit is active and it accepts messages.
 */
export const logger: LabCommand = (args, { state, now, journal }) => {
  let tag = "root";
  let priority = 5; // user.notice, logger's default
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") {
      words.push(...args.slice(i + 1));
      break;
    }
    if (a === "-t" || a === "--tag") tag = args[++i] ?? "";
    else if (a === "-p" || a === "--priority") priority = priorityOf(args[++i] ?? "");
    else if (a.startsWith("-"))
      return { code: 1, stdout: "", stderr: `logger: invalid option -- '${a}'\n` };
    else words.push(a);
  }
  const journald = state.units["systemd-journald.service"];
  if (journald?.active_state !== "active") {
    return { code: 1, stdout: "", stderr: "logger: socket /dev/log: Connection refused\n" };
  }
  if (state.journald.accepts_messages) {
    journal.push({
      realtimeUs: BigInt(now.getTime()) * 1000n,
      identifier: tag,
      priority,
      message: words.join(" "),
      pid: pid++,
      seq: seq++,
    });
  }
  return { code: 0, stdout: "" };
};

function priorityOf(spec: string): number {
  const level = spec.split(".").at(-1) ?? "notice";
  const levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
  const i = levels.indexOf(level);
  return i < 0 ? 5 : i;
}
