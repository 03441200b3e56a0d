import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/** `df --block-size=1 --output=target,fstype,size,used,avail`, GNU coreutils' column layout. */
export const df: LabCommand = (args, { state }) => {
  if (args.join(" ") !== "--block-size=1 --output=target,fstype,size,used,avail") {
    return usage("df", args);
  }
  const rows = [
    ["Mounted on", "Type", "1B-blocks", "Used", "Avail"],
    ...state.mounts.map((m) => [
      m.target,
      m.fstype,
      String(m.size_bytes),
      String(m.used_bytes),
      String(m.size_bytes - m.used_bytes),
    ]),
  ];
  const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => (r[c] as string).length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) =>
        c < 2 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number),
      )
      .join(" ");
  return { code: 0, stdout: `${rows.map(line).join("\n")}\n` };
};
