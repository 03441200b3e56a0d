import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `nft -j list ruleset`: the ruleset as libnftables prints it (jansson, one line, ", " and ": "
 * separators). Loading a ruleset (`nft -f`) belongs to the healer.
 */
export const nft: LabCommand = (args, { state }) => {
  const json = args[0] === "-j" || args[0] === "--json";
  const rest = json ? args.slice(1) : args;
  if (!json || rest.join(" ") !== "list ruleset") return usage("nft", args);
  return { code: 0, stdout: `${janssonCompact(state.nftables)}\n` };
};

/** JSON the way jansson's JSON_COMPACT-less default prints it: `{"a": 1, "b": [1, 2]}`. */
export function janssonCompact(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(janssonCompact).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}: ${janssonCompact(v)}`,
    );
    return `{${entries.join(", ")}}`;
  }
  return JSON.stringify(value);
}
