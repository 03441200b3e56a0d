import {
  type ActionContext,
  type ActionParams,
  exec,
  exitedOk,
  runOk,
  type StepResult,
} from "./context.ts";

/** Backups, journald and the firewall: each one allowlisted command shape (see privileged/). */

function knownJob(params: ActionParams, ctx: ActionContext): string | StepResult {
  const job = String(params.job);
  return ctx.expected.backup_jobs.includes(job)
    ? job
    : { ok: false, detail: `${job} is not a configured backup job` };
}

export async function backupRun(params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  const job = knownJob(params, ctx);
  if (typeof job !== "string") return job;
  // The job's oneshot unit: `systemctl start` returns when the backup has ended.
  return runOk(ctx, ["systemctl", "start", `restic-backups-${job}.service`]);
}

/**
 * A test restore runs as the template unit compliance-restore-test@<files>-<job>.service, which
 * the NixOS module provides: it restores <files> random files of the job's latest snapshot into
 * private scratch space with the job's own credentials, compares their hashes, deletes the copy
 * and exits non-zero on any mismatch. The agent never sees the repository password or file names.
 */
export async function backupTestRestore(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const job = knownJob(params, ctx);
  if (typeof job !== "string") return job;
  const files = Number(params.sample_files);
  return runOk(ctx, ["systemctl", "start", `compliance-restore-test@${files}-${job}.service`]);
}

export async function journaldVacuum(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  return runOk(ctx, ["journalctl", `--vacuum-size=${String(params.max_use)}`]);
}

/**
 * The baseline ruleset (config host.firewall_ruleset_path, `nft -j list ruleset` JSON) loaded as
 * one nft transaction that first flushes the live ruleset: atomic, nothing half-loaded.
 */
export async function nftablesRestoreBaseline(
  _params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const path = ctx.expected.firewall_ruleset_path;
  if (path === undefined) return { ok: false, detail: "no baseline ruleset is configured" };
  const text = await ctx.host.readFile(path, NFT_MAX_BYTES);
  if (text === undefined) return { ok: false, detail: "the baseline ruleset file is missing" };
  const document = nftRestoreDocument(text);
  if (document === undefined) return { ok: false, detail: "the baseline ruleset is not nft JSON" };
  const argv = ["nft", "-j", "-f", "-"] as const;
  return exitedOk(await exec(ctx, argv, document), argv);
}

export const NFT_MAX_BYTES = 1024 * 1024;

/**
 * `{"nftables": [{"flush": {"ruleset": null}}, ...baseline objects]}`: in nft's JSON input an
 * object without a command is added, and the whole document is one transaction. The metainfo
 * object is left out. The privileged helper builds the same bytes from its own copy of the path
 * and refuses any other stdin, so this command can only ever load the baseline.
 */
export function nftRestoreDocument(baselineJson: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(baselineJson);
  } catch {
    return undefined;
  }
  const items = (parsed as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) return undefined;
  const objects = items.filter(
    (item) => typeof item === "object" && item !== null && !("metainfo" in item),
  );
  return JSON.stringify({ nftables: [{ flush: { ruleset: null } }, ...objects] });
}
