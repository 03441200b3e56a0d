import {
  CheckpointDelivery,
  type ExportManifest,
  fromHex,
  leafHash,
  type VerificationKey,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../../protocol/index.ts";
import { failed, parseExportJson, passed, type StepResult } from "../result.ts";
import { type Bundles, hashAt } from "./bundles.ts";

export interface VerifiedCheckpointLine {
  readonly size: number;
  readonly root: Uint8Array;
  /** The checkpoint document as exported, for the WORM comparison. */
  readonly checkpoint: unknown;
}

export interface CheckpointsStep {
  readonly lines: number;
  readonly checkpoints: readonly VerifiedCheckpointLine[];
  readonly consistencyProofs: number;
  readonly inclusionProofs: number;
}

/**
 * Step 5: every line of checkpoints.jsonl: signature by the control-plane key, audience, inside
 * the export, consistent with the previous line's checkpoint (RFC 9162 §2.1.4), the newest
 * bundle included (§2.1.3); the last at `last_seq`, and as many as the signed `checkpoint_count`.
 */
export function verifyCheckpoints(
  text: string,
  file: string,
  manifest: ExportManifest,
  key: VerificationKey,
  bundles: Bundles,
): StepResult<CheckpointsStep> {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const verified: VerifiedCheckpointLine[] = [];
  let consistencyProofs = 0;
  let inclusionProofs = 0;
  for (const [j, line] of lines.entries()) {
    const at = { file, line: j + 1 };
    const parsed = parseExportJson(CheckpointDelivery, line, "checkpoint_malformed", at);
    if (!parsed.ok) return parsed;
    const delivery = parsed.value;
    const signed = verifyCheckpoint(delivery.checkpoint, key);
    if (!signed.ok) {
      return failed({ ...at, reason: "checkpoint_bad_signature", detail: signed.detail });
    }
    const cp = signed.checkpoint;
    const size = cp.tree_size;
    if (cp.tenant_id !== manifest.tenant_id || cp.appliance_id !== manifest.appliance_id) {
      return failed({
        ...at,
        reason: "checkpoint_wrong_appliance",
        detail: `for ${cp.tenant_id}/${cp.appliance_id}`,
      });
    }
    if (size < manifest.first_seq || size > manifest.last_seq) {
      return failed({
        ...at,
        reason: "checkpoint_out_of_range",
        detail: `tree size ${size} is outside the export`,
      });
    }
    const root = fromHex(cp.root_hash, "root");
    const previous = verified.at(-1);
    if (previous) {
      if (delivery.from_size !== previous.size || size <= previous.size) {
        return failed({
          ...at,
          reason: "checkpoint_inconsistent",
          detail: `proof from ${delivery.from_size} after checkpoint ${previous.size}, size ${size}`,
        });
      }
      const proof = delivery.consistency.map((h) => fromHex(h, "proof"));
      if (!verifyConsistency(previous.size, size, previous.root, root, proof)) {
        return failed({
          ...at,
          reason: "checkpoint_inconsistent",
          detail: `checkpoint ${size} does not extend checkpoint ${previous.size} (RFC 9162 §2.1.4)`,
        });
      }
      consistencyProofs++;
    }
    const head = hashAt(bundles, size - manifest.first_seq);
    const inclusion = delivery.head_inclusion.map((h) => fromHex(h, "proof"));
    if (!verifyInclusion(leafHash(head), size - 1, size, inclusion, root)) {
      return failed({
        ...at,
        reason: "checkpoint_head_not_included",
        detail: `bundle ${size} is not the newest leaf of checkpoint ${size} (RFC 9162 §2.1.3)`,
      });
    }
    inclusionProofs++;
    verified.push({ size, root, checkpoint: delivery.checkpoint });
  }
  if ((verified.at(-1)?.size ?? 0) !== manifest.last_seq) {
    return failed({
      reason: "truncated",
      detail: `no checkpoint of size ${manifest.last_seq}`,
      file,
    });
  }
  if (verified.length !== manifest.checkpoint_count) {
    return failed({
      reason: "count_mismatch",
      detail: `${verified.length} checkpoints; the signed manifest says checkpoint_count ${manifest.checkpoint_count}`,
      file,
    });
  }
  return passed({
    lines: lines.length,
    checkpoints: verified,
    consistencyProofs,
    inclusionProofs,
  });
}
