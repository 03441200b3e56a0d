import type { LabCommand } from "../registry.ts";
import type { LabState } from "../state.ts";
import { failsOnce } from "./faults.ts";

/**
 * nft -j -f -: one atomic transaction from JSON on stdin. Supported: a leading
 * `{"flush": {"ruleset": null}}` and plain objects (added), which is all the healer sends. Handles
 * are renumbered as the kernel would; on any error nothing changes (nft's own guarantee).
 */
export function nftMutations(base: LabCommand | undefined): LabCommand {
  return (args, ctx) => {
    if (!(args.length === 3 && args[0] === "-j" && args[1] === "-f" && args[2] === "-")) {
      return base
        ? base(args, ctx)
        : { code: 1, stdout: "", stderr: "nft: unsupported in the lab\n" };
    }
    let doc: { nftables?: unknown };
    try {
      doc = JSON.parse(ctx.stdin ?? "") as { nftables?: unknown };
    } catch {
      return { code: 1, stdout: "", stderr: "Error: syntax error, malformed JSON input\n" };
    }
    if (!Array.isArray(doc.nftables)) {
      return { code: 1, stdout: "", stderr: "Error: No 'nftables' array in JSON input\n" };
    }
    if (failsOnce(ctx, "nft")) {
      return {
        code: 1,
        stdout: "",
        stderr: "Error: Could not process rule: Device or resource busy\n",
      };
    }
    const items = doc.nftables as Record<string, unknown>[];
    const flush = items[0] && "flush" in items[0];
    const objects = items.slice(flush ? 1 : 0);
    ctx.update((s) => {
      const meta = s.nftables.nftables.filter((o) => "metainfo" in o);
      const kept = flush ? [] : s.nftables.nftables.filter((o) => !("metainfo" in o));
      let handle = 1;
      const renumber = (o: Record<string, unknown>) => {
        const [[kind, body]] = Object.entries(o) as [[string, Record<string, unknown>]];
        return typeof body === "object" && body !== null && "handle" in body
          ? { [kind]: { ...body, handle: handle++ } }
          : o;
      };
      s.nftables = {
        nftables: [...meta, ...[...kept, ...objects].map(renumber)],
      } as LabState["nftables"];
    });
    return { code: 0, stdout: "" };
  };
}
