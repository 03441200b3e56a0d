import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";
import { SSHD_T_LINES } from "./sshd-template.ts";

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
