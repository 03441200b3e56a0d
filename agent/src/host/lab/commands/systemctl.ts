import type { LabCommand, LabOutput } from "../registry.ts";
import { usage } from "../registry.ts";
import type { LabState, LabUnit } from "../state.ts";

/**
 * `systemctl show [--property=A,B | -p A] [--timestamp=unix] UNIT...`: Key=Value lines per unit,
 * units separated by a blank line, properties in systemd's own order whatever order was asked
 * for; an unknown unit reports LoadState=not-found. Read-only: start/restart belong to the healer.
 */
const ORDER = [
  "Type",
  "Restart",
  "NRestarts",
  "CPUUsageNSec",
  "ExecMainStartTimestamp",
  "ExecMainExitTimestamp",
  "ExecMainPID",
  "ExecMainCode",
  "ExecMainStatus",
  "MainPID",
  "Result",
  "Id",
  "Names",
  "Description",
  "LoadState",
  "ActiveState",
  "SubState",
  "UnitFileState",
  "StateChangeTimestamp",
  "ActiveEnterTimestamp",
] as const;

export const systemctl: LabCommand = (args, { state }) => {
  const [verb, ...rest] = args;
  if (verb !== "show") return usage("systemctl", args);
  const wanted = new Set<string>();
  let unix = false;
  const units: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === "-p" || a === "--property") {
      for (const p of (rest[++i] ?? "").split(",")) wanted.add(p);
    } else if (a.startsWith("--property=")) {
      for (const p of a.slice("--property=".length).split(",")) wanted.add(p);
    } else if (a === "--timestamp=unix") {
      unix = true;
    } else if (a === "--no-pager" || a === "--") {
      // accepted, no effect
    } else if (a.startsWith("-")) {
      return { code: 1, stdout: "", stderr: `systemctl: unrecognized option '${a}'\n` };
    } else {
      units.push(a);
    }
  }
  if (units.length === 0) return usage("systemctl", args);
  const blocks = units.map((name) => showUnit(state, name, wanted, unix));
  return { code: 0, stdout: `${blocks.join("\n\n")}\n` } satisfies LabOutput;
};

function showUnit(state: LabState, name: string, wanted: Set<string>, unix: boolean): string {
  const u: LabUnit | undefined = state.units[name];
  const ts = (iso: string | undefined) => {
    if (!iso) return "";
    const d = new Date(iso);
    if (unix) return `@${Math.floor(d.getTime() / 1000)}`;
    const day = d.toUTCString().slice(0, 3);
    return `${day} ${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  };
  const running = u?.active_state === "active" && u.type !== "oneshot";
  const values: Record<(typeof ORDER)[number], string> = {
    Type: u?.type ?? "simple",
    Restart: u ? "on-failure" : "no",
    NRestarts: String(u?.n_restarts ?? 0),
    CPUUsageNSec: u?.cpu_usage_nsec == null ? "[not set]" : String(u.cpu_usage_nsec),
    ExecMainStartTimestamp: ts(u?.changed_at),
    ExecMainExitTimestamp: u && !running ? ts(u.changed_at) : "",
    ExecMainPID: String(u?.main_pid ?? 0),
    ExecMainCode: u && !running ? "1" : "0", // CLD_EXITED
    ExecMainStatus: u && u.result === "exit-code" ? "1" : "0",
    MainPID: String(running ? (u?.main_pid ?? 0) : 0),
    Result: u?.result ?? "success",
    Id: name,
    Names: name,
    Description: u?.description ?? name,
    LoadState: u?.load_state ?? "not-found",
    ActiveState: u?.active_state ?? "inactive",
    SubState: u?.sub_state ?? "dead",
    UnitFileState: u?.unit_file_state ?? "",
    StateChangeTimestamp: ts(u?.changed_at),
    ActiveEnterTimestamp: u?.active_state === "active" ? ts(u.changed_at) : "",
  };
  return ORDER.filter((k) => wanted.size === 0 || wanted.has(k))
    .map((k) => `${k}=${values[k]}`)
    .join("\n");
}
