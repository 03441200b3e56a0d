import type { Host } from "../ports.ts";
import type { CheckContext } from "./contract.ts";
import { firstLine, runTool } from "./support.ts";

/**
 * `systemctl show --property=... -- UNIT...` output: one block of Key=Value lines
 * per unit, blocks separated by a blank line (systemd's bus_print_all_properties). Values may
 * contain '='; keys never do. Anything else is malformed and refused.
 */
export type UnitProperties = ReadonlyMap<string, string>;

export function parseSystemctlShow(text: string): UnitProperties[] | undefined {
  const blocks = text
    .replace(/\n+$/, "")
    .split(/\n\s*\n/)
    .filter((b) => b.trim() !== "");
  const units: UnitProperties[] = [];
  for (const block of blocks) {
    const props = new Map<string, string>();
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq <= 0 || !/^[A-Za-z][A-Za-z0-9]*$/.test(line.slice(0, eq))) return undefined;
      props.set(line.slice(0, eq), line.slice(eq + 1));
    }
    units.push(props);
  }
  return units;
}

/** The block of the unit named `id`, or undefined (systemctl prints one block per unit asked). */
export function unitById(units: UnitProperties[], id: string): UnitProperties | undefined {
  return units.find((u) => u.get("Id") === id);
}

/**
 * Runs `systemctl show --property=... -- UNIT...` and parses it; a reason
 * when the check cannot see the units (tool missing, failing, or printing something else).
 */
export async function showUnits(
  host: Host,
  context: CheckContext,
  properties: readonly string[],
  units: readonly string[],
): Promise<{ ok: true; units: UnitProperties[] } | { ok: false; reason: string }> {
  const run = await runTool(host, context, [
    "systemctl",
    "show",
    `--property=${properties.join(",")}`,
    "--",
    ...units,
  ]);
  if (!run.ok) return run;
  if (run.code !== 0) {
    return { ok: false, reason: `systemctl show exited ${run.code}: ${firstLine(run.stderr)}` };
  }
  const parsed = parseSystemctlShow(run.stdout);
  return parsed
    ? { ok: true, units: parsed }
    : { ok: false, reason: "systemctl show printed lines that are not Key=Value" };
}
