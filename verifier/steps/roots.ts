import { type ExportManifest, fromHex, RootBuilder, toHex } from "../../protocol/index.ts";
import type { SeenCheckpoint } from "../bundle-check.ts";
import { failed, passed, type StepResult } from "../result.ts";
import type { Bundles } from "./bundles.ts";
import type { VerifiedCheckpointLine } from "./checkpoints.ts";
import type { StoredCosignatureLine } from "./cosignatures.ts";

export interface RootsStep {
  readonly rootsRecomputed: number;
  readonly applianceSeenMatched: number;
  /** Exported checkpoints that the appliance cosigned as a witness (in a bundle or the list). */
  readonly checkpointsCosigned: number;
  readonly lastCheckpointCosigned: boolean;
}

/**
 * Step 6: every checkpoint root recomputed from the bundles (from `prefix_frontier` when the
 * export starts mid-log), every checkpoint the appliance recorded as verified (and cosigned)
 * compared with the log at that size, and no alert in which the appliance refused a checkpoint
 * as inconsistent or rolled back: each is the appliance's own signed evidence of a split view.
 */
export function verifyRoots(
  bundles: Bundles,
  manifest: ExportManifest,
  checkpoints: readonly VerifiedCheckpointLine[],
  stored: readonly StoredCosignatureLine[],
  files: { manifest: string; bundles: string; checkpoints: string; cosignatures: string },
): StepResult<RootsStep> {
  const refused = bundles.refused[0];
  if (refused) {
    return failed({
      file: files.bundles,
      line: refused.index + 1,
      seq: bundles.seqs[refused.index] as number,
      reason: "appliance_refused_checkpoint",
      detail: `the appliance refused ${refused.subject} (${refused.code}): evidence of a forked or rolled-back log`,
    });
  }
  interface Wanted {
    root?: Uint8Array;
    line?: number;
    seen: SeenCheckpoint[];
    stored: StoredCosignatureLine[];
  }
  const wanted = new Map<number, Wanted>();
  const at = (size: number): Wanted => {
    const w = wanted.get(size) ?? { seen: [], stored: [] };
    wanted.set(size, w);
    return w;
  };
  for (const [j, v] of checkpoints.entries())
    Object.assign(at(v.size), { root: v.root, line: j + 1 });
  for (const s of bundles.seen) {
    if (s.treeSize < manifest.first_seq - 1 || s.treeSize > manifest.last_seq) continue;
    at(s.treeSize).seen.push(s);
  }
  for (const c of stored) at(c.tree_size).stored.push(c);
  let builder: RootBuilder;
  try {
    builder = new RootBuilder(
      manifest.first_seq - 1,
      manifest.prefix_frontier.map((h) => fromHex(h, "frontier")),
    );
  } catch (error) {
    return failed({
      reason: "manifest_malformed",
      detail: (error as Error).message,
      file: files.manifest,
    });
  }
  let rootsRecomputed = 0;
  let applianceSeenMatched = 0;
  let checkpointsCosigned = 0;
  let lastCheckpointCosigned = false;
  const check = (): StepResult<null> => {
    const w = wanted.get(builder.size);
    if (!w) return passed(null);
    const root = builder.root();
    if (w.root) {
      if (Buffer.compare(root, w.root) !== 0) {
        return failed({
          file: files.checkpoints,
          line: w.line as number,
          reason: "checkpoint_root_mismatch",
          detail: `the bundles give root ${toHex(root)} at size ${builder.size}`,
        });
      }
      rootsRecomputed++;
      if (w.seen.some((s) => s.cosigned) || w.stored.length > 0) {
        checkpointsCosigned++;
        if (builder.size === manifest.last_seq) lastCheckpointCosigned = true;
      }
    }
    const hex = toHex(root);
    for (const c of w.stored) {
      if (hex !== c.root_hash) {
        return failed({
          file: files.cosignatures,
          line: c.line,
          seq: c.seq,
          reason: "split_view",
          detail: `the appliance cosigned root ${c.root_hash} at size ${c.tree_size}; the log has ${hex}`,
        });
      }
    }
    for (const s of w.seen) {
      if (hex !== s.rootHash) {
        return failed({
          file: files.bundles,
          line: s.index + 1,
          seq: bundles.seqs[s.index] as number,
          reason: "split_view",
          detail: `the appliance verified root ${s.rootHash} at size ${s.treeSize}; the log has ${hex}`,
        });
      }
      applianceSeenMatched++;
    }
    return passed(null);
  };
  let step = check();
  for (let i = 0; step.ok && i < bundles.total; i++) {
    builder.append(bundles.leaves.subarray(i * 32, i * 32 + 32));
    step = check();
  }
  if (!step.ok) return step;
  return passed({
    rootsRecomputed,
    applianceSeenMatched,
    checkpointsCosigned,
    lastCheckpointCosigned,
  });
}
