import { randomInt } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../atomic-file.ts";
import { RestoreTestRecord, restoreTestPath } from "../checks/backups/check.ts";
import type { ExecResult, Host } from "../ports.ts";

/**
 * The weekly test restore (45 CFR 164.308(a)(7)(ii)(D)): restore a random sample of files from a
 * backup job's latest snapshot into private scratch space with restic's own content
 * verification, check each restored file is there with the size the snapshot records, delete
 * the copy, and append the outcome to the record the backups check reads. It runs as the root
 * template unit compliance-restore-test@<files>-<job>.service (the NixOS module), because only
 * root may read the repository password; the agent only starts that unit and never sees file
 * names. The record holds counts and a snapshot id, never a path: no PHI leaves the clinic.
 */

/** `<files>-<job>`, exactly as the agent's backup.test_restore action names the unit. */
const INSTANCE = /^([1-9][0-9]{0,3})-([a-z][a-z0-9-]{0,62})$/;
/** Runs kept in the record; the check only needs the newest passing one. */
const KEEP_RUNS = 20;
const LIST_MAX_BYTES = 256 * 1024 * 1024;

const Snapshot = z.looseObject({ id: z.string().regex(/^[0-9a-f]{64}$/) });
/** One line of `restic ls --json` (restic 0.14): the snapshot line first, then one per node. */
const LsNode = z.looseObject({
  struct_type: z.literal("node"),
  type: z.string(),
  path: z.string().startsWith("/"),
  size: z.int().min(0).optional(),
});

export interface RestoreTestOptions {
  readonly host: Host;
  /** `<files>-<job>` from the unit instance. */
  readonly instance: string;
  readonly backupJobs: readonly string[];
  readonly stateDir: string;
  /** Where scratch copies go (the unit's private /tmp); removed afterwards in every case. */
  readonly scratchRoot: string;
  readonly now: () => Date;
  readonly timeoutMs: number;
}

export type RestoreTestOutcome =
  | {
      readonly result: "passed" | "failed";
      readonly snapshotId: string;
      readonly filesChecked: number;
      readonly detail: string;
    }
  | { readonly result: "refused"; readonly detail: string };

export async function runRestoreTest(o: RestoreTestOptions): Promise<RestoreTestOutcome> {
  const match = INSTANCE.exec(o.instance);
  if (!match) return refused(`instance ${JSON.stringify(o.instance)} is not <files>-<job>`);
  const files = Number(match[1]);
  const job = match[2] as string;
  if (!o.backupJobs.includes(job)) return refused(`${job} is not a configured backup job`);
  const restic = `restic-${job}`;
  const run = (args: string[], maxOutputBytes = 1024 * 1024) =>
    o.host.exec({ argv: [restic, ...args], timeoutMs: o.timeoutMs, maxOutputBytes });

  const snaps = await run(["snapshots", "--json", "--latest", "1"]);
  const snapshotList = parseJson(snaps, z.array(Snapshot));
  if (typeof snapshotList === "string") return refused(`${restic} snapshots: ${snapshotList}`);
  const snapshot = snapshotList.at(-1);
  if (!snapshot) return refused(`${restic} has no snapshot to restore from`);

  const listing = await run(["ls", "--json", snapshot.id], LIST_MAX_BYTES);
  if (listing.kind !== "exited" || listing.code !== 0 || listing.truncated) {
    return record(o, job, snapshot.id, "failed", 0, `${restic} ls failed: ${describe(listing)}`);
  }
  const candidates: { path: string; size: number }[] = [];
  for (const line of listing.stdout.split("\n")) {
    if (line.trim() === "") continue;
    const node = LsNode.safeParse(safeJson(line));
    if (node.success && node.data.type === "file") {
      candidates.push({ path: node.data.path, size: node.data.size ?? 0 });
    }
  }
  if (candidates.length === 0) {
    return record(o, job, snapshot.id, "failed", 0, "the snapshot holds no file to restore");
  }
  const sample = pick(candidates, Math.min(files, candidates.length));

  await mkdir(o.scratchRoot, { recursive: true, mode: 0o700 });
  const scratch = await mkdtemp(join(o.scratchRoot, `${job}-`));
  try {
    const includes = sample.flatMap((f) => ["--include", f.path]);
    const restored = await run([
      "restore",
      snapshot.id,
      "--target",
      scratch,
      "--verify",
      ...includes,
    ]);
    if (restored.kind !== "exited" || restored.code !== 0) {
      return record(o, job, snapshot.id, "failed", 0, `restore failed: ${describe(restored)}`);
    }
    let checked = 0;
    for (const f of sample) {
      const copy = await lstat(join(scratch, f.path)).catch(() => undefined);
      if (!copy?.isFile() || copy.size !== f.size) {
        return record(
          o,
          job,
          snapshot.id,
          "failed",
          checked,
          "a restored file is missing or has the wrong size",
        );
      }
      checked += 1;
    }
    return record(o, job, snapshot.id, "passed", checked, `${checked} files restored and verified`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function record(
  o: RestoreTestOptions,
  job: string,
  snapshotId: string,
  result: "passed" | "failed",
  filesChecked: number,
  detail: string,
): Promise<RestoreTestOutcome> {
  const dir = join(o.stateDir, "restore-tests");
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = restoreTestPath(dir, job);
  let runs: RestoreTestRecord["runs"] = [];
  const previous = RestoreTestRecord.safeParse(
    safeJson(await readFile(path, "utf8").catch(() => "")),
  );
  if (previous.success && previous.data.job === job) runs = previous.data.runs;
  const finishedAt = `${o.now().toISOString().slice(0, 19)}Z`;
  runs = [
    ...runs,
    { snapshot_id: snapshotId, finished_at: finishedAt, result, files_checked: filesChecked },
  ];
  const next: RestoreTestRecord = { job, runs: runs.slice(-KEEP_RUNS) };
  // Readable by the agent's user; written whole or not at all.
  writeFileAtomic(path, `${JSON.stringify(next)}\n`, 0o644);
  return { result, snapshotId, filesChecked, detail };
}

function refused(detail: string): RestoreTestOutcome {
  return { result: "refused", detail };
}

function pick<T>(items: readonly T[], n: number): T[] {
  const pool = [...items];
  for (let i = 0; i < n; i += 1) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, n);
}

function parseJson<T>(res: ExecResult, schema: z.ZodType<T>): T | string {
  if (res.kind !== "exited" || res.code !== 0) return describe(res);
  const parsed = schema.safeParse(safeJson(res.stdout));
  return parsed.success ? parsed.data : "printed something that is not the expected JSON";
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(res: ExecResult): string {
  if (res.kind === "exited")
    return `exit ${res.code}: ${res.stderr.split("\n")[0]?.slice(0, 200) ?? ""}`;
  return res.kind === "failed" ? res.message : res.kind;
}
