import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * NixOS's restic wrappers, `restic-<job> snapshots --json [--latest N]` (registered as
 * `restic-*`; the job is the program name's suffix): restic 0.14's compact JSON array. An
 * unreachable repository fails the way restic does ("Fatal: ..." and exit 1). `backup` and
 * `restore` belong to the healer, which replaces `restic-*` and delegates reads here.
 */
export const restic: LabCommand = (args, context) =>
  resticFor(context.program.slice("restic-".length))(args, context);

function resticFor(job: string): LabCommand {
  return (args, { state }) => {
    const backup = state.backups[job];
    if (!backup)
      return {
        code: 1,
        stdout: "",
        stderr: "Fatal: unable to open config file: Stat: no such file or directory\n",
      };
    const latest = args.indexOf("--latest");
    const n = latest >= 0 ? Number(args[latest + 1]) : Number.POSITIVE_INFINITY;
    const rest = args.filter((a, i) => a !== "--latest" && (latest < 0 || i !== latest + 1));
    if (rest.join(" ") !== "snapshots --json" || Number.isNaN(n))
      return usage(`restic-${job}`, args);
    if (!backup.repository_reachable) {
      return { code: 1, stdout: "", stderr: "Fatal: wrong password or no key found\n" };
    }
    const sorted = [...backup.snapshots].sort((a, b) => a.time.localeCompare(b.time));
    const shown = Number.isFinite(n) ? sorted.slice(-n) : sorted;
    const json = shown.map((s) => ({
      time: s.time,
      tree: s.tree,
      paths: s.paths,
      hostname: state.hostname,
      username: "root",
      id: s.id,
      short_id: s.id.slice(0, 8),
    }));
    return { code: 0, stdout: `${JSON.stringify(json)}\n` };
  };
}
