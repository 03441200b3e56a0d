import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `auditctl -l` (the loaded rules in audit.rules syntax, or "No rules") and `auditctl -s` (the
 * kernel's audit status, one "key value" per line), as audit 3.0 prints them. Loading rules
 * belongs to the healer (restarting audit-rules-nixos.service).
 */
export const auditctl: LabCommand = (args, { state }) => {
  const { audit } = state;
  if (args.length === 1 && args[0] === "-l") {
    return {
      code: 0,
      stdout: audit.rules.length === 0 ? "No rules\n" : `${audit.rules.join("\n")}\n`,
    };
  }
  if (args.length === 1 && args[0] === "-s") {
    const auditd = state.units["auditd.service"];
    const pid = auditd?.active_state === "active" ? auditd.main_pid : 0;
    const lines = [
      `enabled ${audit.enabled}`,
      "failure 1",
      `pid ${pid}`,
      "rate_limit 0",
      "backlog_limit 8192",
      "lost 0",
      "backlog 0",
      "backlog_wait_time 60000",
      "backlog_wait_time_actual 0",
      `loginuid_immutable 0 unlocked`,
    ];
    return { code: 0, stdout: `${lines.join("\n")}\n` };
  }
  return usage("auditctl", args);
};
