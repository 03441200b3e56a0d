import type { LabCommand } from "../registry.ts";

const UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * journalctl --vacuum-size=<size>: archived files go until the journal fits (the active file,
 * modelled as 8 MiB, always stays); the space comes back to the root file system.
 */
export function journalctlMutations(base: LabCommand | undefined): LabCommand {
  return (args, ctx) => {
    const match =
      args.length === 1 ? /^--vacuum-size=([1-9][0-9]{0,4})([KMG])$/.exec(args[0] ?? "") : null;
    if (!match) {
      return base
        ? base(args, ctx)
        : { code: 1, stdout: "", stderr: "journalctl: unsupported in the lab\n" };
    }
    const limit = Number(match[1]) * (UNITS[match[2] as string] as number);
    const usage = ctx.state.journald.disk_usage_bytes;
    const keep = Math.max(Math.min(usage, limit), Math.min(usage, 8 * 1024 ** 2));
    const freed = usage - keep;
    ctx.update((s) => {
      s.journald.disk_usage_bytes = keep;
      const root = s.mounts.find((m) => m.target === "/");
      if (root) root.used_bytes = Math.max(0, root.used_bytes - freed);
    });
    return {
      code: 0,
      stdout: "",
      stderr: `Vacuuming done, freed ${(freed / 1024 ** 2).toFixed(1)}M of archived journals from /var/log/journal.\n`,
    };
  };
}
