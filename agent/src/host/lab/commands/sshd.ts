import recorded from "../../../checks/services/fixtures/sshd-T-baseline.json" with { type: "json" };
import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `sshd -T` of OpenSSH 9.2p1 for the lab appliance's sshd_config, one line an entry: the
 * recording the services check's tests read (its README says how it was made).
 */
const SSHD_T_LINES: readonly string[] = recorded;

/**
 * `sshd -T`: the effective configuration, one lower-case "key value" per line, as OpenSSH 9.2
 * prints it (the recorded output, with the state's overrides applied in place).
 */
export const sshd: LabCommand = (args, { state }) => {
  if (args.length !== 1 || args[0] !== "-T") return usage("sshd", args);
  const overrides = new Map(Object.entries(state.sshd));
  const lines: string[] = [];
  for (const line of SSHD_T_LINES) {
    const key = line.slice(0, line.indexOf(" "));
    const value = overrides.get(key);
    if (value === undefined) lines.push(line);
    else if (value !== "") lines.push(`${key} ${value}`);
    overrides.delete(key);
  }
  for (const [key, value] of overrides) if (value !== "") lines.push(`${key} ${value}`);
  return { code: 0, stdout: `${lines.join("\n")}\n` };
};
