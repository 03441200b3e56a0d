import { closeSync, openSync, readSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type CheckStateLine, mergeCheckStates } from "../../protocol/index.ts";
import {
  BUNDLE_STATUS,
  checkRange,
  type RangeResult,
  type RangeTask,
  type RefusedCheckpoint,
  type SeenCheckpoint,
} from "../bundle-check.ts";
import { VerifierError } from "../errors.ts";
import { failed, passed, type StepResult } from "../result.ts";

/** Every bundle, in file order, as flat arrays; indexes are 0-based line numbers. */
export interface Bundles {
  readonly total: number;
  readonly seqs: Float64Array;
  readonly hashes: Uint8Array;
  readonly prevs: Uint8Array;
  readonly leaves: Uint8Array;
  readonly seen: readonly SeenCheckpoint[];
  readonly refused: readonly RefusedCheckpoint[];
  readonly enrollment?: {
    readonly index: number;
    readonly keyId: string;
    readonly cpKeyId: string;
  };
  /** With an as-of instant: each check's state then, from the verified bundles. */
  readonly checkStates: readonly CheckStateLine[];
  readonly cosignaturesVerified: number;
}

export const hashAt = (b: Bundles, i: number) => b.hashes.subarray(i * 32, i * 32 + 32);

/**
 * Step 2: every line of bundles.jsonl, split at line boundaries over worker threads (one per
 * core for large exports): canonical bytes, schema, audience, signature, and what later steps
 * need. The first bad line, in file order, is the failure.
 */
export async function verifyBundles(
  file: string,
  name: string,
  workers: number | undefined,
  base: Omit<RangeTask, "file" | "start" | "end">,
): Promise<StepResult<Bundles>> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return failed({ reason: "missing_file", detail: `${name} cannot be read`, file: name });
  }
  const results = await checkRanges(file, size, workers, base);
  const total = results.reduce((n, r) => n + r.count, 0);
  const seqs = new Float64Array(total);
  const hashes = new Uint8Array(total * 32);
  const prevs = new Uint8Array(total * 32);
  const leaves = new Uint8Array(total * 32);
  const seen: SeenCheckpoint[] = [];
  const refused: RefusedCheckpoint[] = [];
  let enrollment: Bundles["enrollment"];
  let cosignaturesVerified = 0;
  let offset = 0;
  for (const r of results) {
    if (r.problem) {
      const i = r.problem.index;
      const reason = BUNDLE_STATUS[r.status[i] as number] ?? "malformed";
      return failed({
        reason,
        detail: r.problem.detail,
        file: name,
        line: offset + i + 1,
        seq: r.seqs[i] as number,
      });
    }
    seqs.set(r.seqs, offset);
    hashes.set(r.hashes, offset * 32);
    prevs.set(r.prevs, offset * 32);
    leaves.set(r.leaves, offset * 32);
    for (const s of r.seenCheckpoints) seen.push({ ...s, index: offset + s.index });
    for (const s of r.refusedCheckpoints) refused.push({ ...s, index: offset + s.index });
    if (r.enrollment) enrollment = { ...r.enrollment, index: offset + r.enrollment.index };
    cosignaturesVerified += r.cosignaturesVerified;
    offset += r.count;
  }
  return passed({
    total,
    seqs,
    hashes,
    prevs,
    leaves,
    seen,
    refused,
    ...(enrollment ? { enrollment } : {}),
    checkStates: mergeCheckStates(results.map((r) => r.checkStates)),
    cosignaturesVerified,
  });
}

async function checkRanges(
  file: string,
  size: number,
  requested: number | undefined,
  base: Omit<RangeTask, "file" | "start" | "end">,
): Promise<RangeResult[]> {
  const workers = requested ?? (size > 4 * 1024 * 1024 ? availableParallelism() : 0);
  if (workers === 0) return [await checkRange({ ...base, file, start: 0, end: Infinity })];
  const cuts = lineBoundaries(file, size, workers);
  const ranges = cuts.map((start, k) => ({ start, end: cuts[k + 1] ?? Infinity }));
  // This thread checks the last range itself once the workers are started: it would only wait
  // for them otherwise, and one thread fewer is one start-up (module loading) fewer.
  const own = ranges.pop() as { start: number; end: number };
  const others = Promise.all(
    ranges.map(
      (r) =>
        new Promise<RangeResult>((resolve, reject) => {
          const worker = new Worker(new URL("../worker.ts", import.meta.url), {
            workerData: { ...base, file, ...r } satisfies RangeTask,
          });
          worker.once("message", resolve);
          worker.once("error", reject);
          worker.once("exit", (code) => {
            if (code !== 0) {
              reject(new VerifierError("worker_failed", `verifier worker exited with ${code}`));
            }
          });
        }),
    ),
  );
  let mine: RangeResult;
  try {
    mine = await checkRange({ ...base, file, ...own });
  } catch (error) {
    await others.catch(() => undefined);
    throw error;
  }
  return [...(await others), mine];
}

/** Start offsets of `parts` ranges, each moved forward to just after a line feed. */
function lineBoundaries(file: string, size: number, parts: number): number[] {
  const cuts = [0];
  const fd = openSync(file, "r");
  try {
    const probe = Buffer.alloc(64 * 1024);
    for (let k = 1; k < parts; k++) {
      let pos = Math.floor((size * k) / parts);
      if (pos <= (cuts.at(-1) as number)) continue;
      for (;;) {
        const n = readSync(fd, probe, 0, probe.length, pos);
        if (n === 0) {
          pos = size;
          break;
        }
        const nl = probe.subarray(0, n).indexOf(10);
        if (nl >= 0) {
          pos += nl + 1;
          break;
        }
        pos += n;
      }
      if (pos < size) cuts.push(pos);
    }
  } finally {
    closeSync(fd);
  }
  return cuts;
}
