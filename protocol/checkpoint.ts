import { fromHex, toHex } from "./encoding.ts";
import {
  EMPTY_ROOT,
  leafHash,
  type MerkleTree,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
import { tryParseMessage } from "./parse.ts";
import { Checkpoint, CheckpointDelivery } from "./schemas/checkpoint.ts";
import {
  type Signer,
  signDocument,
  type VerificationKey,
  verifyDocument,
} from "./signed-document.ts";

/**
 * Signed checkpoints of an appliance's Merkle log, and the appliance's check of a delivered one:
 * signature by the pinned control-plane key, audience, no rollback, consistency with the last
 * checkpoint it verified (RFC 9162 §2.1.4) and inclusion of its own newest bundle (§2.1.3). So
 * the control plane cannot drop, rewrite or fork an appliance's history without the appliance
 * seeing it on its next poll.
 */
export interface CheckpointFields {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly treeSize: number;
  readonly root: Uint8Array;
  readonly issuedAt: string;
}

export function signCheckpoint(fields: CheckpointFields, signer: Signer): Checkpoint {
  return signDocument<Checkpoint>(
    Checkpoint,
    {
      v: 1,
      type: "checkpoint",
      tenant_id: fields.tenantId,
      appliance_id: fields.applianceId,
      tree_size: fields.treeSize,
      root_hash: toHex(fields.root),
      issued_at: fields.issuedAt,
    },
    signer,
  );
}

/** The leaf hash of a bundle given its hex bundle hash: SHA-256(0x00 || bundle_hash). */
export function bundleLeafHash(bundleHashHex: string): Uint8Array {
  return leafHash(fromHex(bundleHashHex, "bundle hash"));
}

/** Builds what a poll response carries: the checkpoint with proofs from `fromSize`. */
export function checkpointDelivery(
  checkpoint: Checkpoint,
  tree: MerkleTree,
  fromSize: number,
): CheckpointDelivery {
  const size = checkpoint.tree_size;
  return {
    checkpoint,
    from_size: fromSize,
    consistency: tree.consistencyProof(fromSize, size).map(toHex),
    head_inclusion: size > 0 ? tree.inclusionProof(size - 1, size).map(toHex) : [],
  };
}

export type CheckpointRejectionReason =
  | "malformed"
  | "bad_signature"
  | "wrong_audience"
  | "rollback"
  | "inconsistent"
  | "head_not_included";

export interface VerifiedCheckpoint {
  readonly treeSize: number;
  readonly rootHash: string;
}

export interface CheckpointContext {
  readonly key: VerificationKey;
  readonly tenantId: string;
  readonly applianceId: string;
  /** The last checkpoint this appliance verified (persisted), or undefined for none. */
  readonly last: VerifiedCheckpoint | undefined;
  /** The appliance's own bundle hash at `seq`, when it still holds it. */
  readonly bundleHashAt: (seq: number) => string | undefined;
}

export type CheckpointVerdict =
  | { readonly ok: true; readonly checkpoint: Checkpoint; readonly fromSize: number }
  | {
      readonly ok: false;
      readonly reason: CheckpointRejectionReason;
      readonly detail: string;
      readonly claimed?: Checkpoint;
    };

const hashes = (hex: readonly string[]) => hex.map((h) => fromHex(h, "proof hash"));

export function verifyCheckpointDelivery(
  raw: unknown,
  context: CheckpointContext,
): CheckpointVerdict {
  const parsed = tryParseMessage(CheckpointDelivery, raw);
  if (!parsed.ok) return { ok: false, reason: "malformed", detail: parsed.problem };
  const delivery = parsed.value;
  const cp = delivery.checkpoint;
  const reject = (reason: CheckpointRejectionReason, detail: string): CheckpointVerdict => ({
    ok: false,
    reason,
    detail,
    claimed: cp,
  });
  if (!verifyDocument(cp, context.key)) {
    return reject("bad_signature", "checkpoint is not signed by the pinned control-plane key");
  }
  if (cp.tenant_id !== context.tenantId || cp.appliance_id !== context.applianceId) {
    return reject("wrong_audience", `checkpoint is for ${cp.tenant_id}/${cp.appliance_id}`);
  }
  const last = context.last ?? { treeSize: 0, rootHash: toHex(EMPTY_ROOT) };
  if (cp.tree_size < last.treeSize) {
    return reject("rollback", `tree size ${cp.tree_size} is below ${last.treeSize} verified`);
  }
  // The proof must start where this appliance last stood, not where the sender chose.
  if (delivery.from_size !== last.treeSize) {
    return reject(
      "inconsistent",
      `proof starts at tree size ${delivery.from_size}, last verified ${last.treeSize}`,
    );
  }
  const consistent = verifyConsistency(
    last.treeSize,
    cp.tree_size,
    fromHex(last.rootHash, "root hash"),
    fromHex(cp.root_hash, "root hash"),
    hashes(delivery.consistency),
  );
  if (!consistent) {
    return reject(
      "inconsistent",
      `checkpoint ${cp.tree_size} is not an extension of verified checkpoint ${last.treeSize}`,
    );
  }
  if (cp.tree_size > 0) {
    const own = context.bundleHashAt(cp.tree_size);
    const included =
      own !== undefined &&
      verifyInclusion(
        bundleLeafHash(own),
        cp.tree_size - 1,
        cp.tree_size,
        hashes(delivery.head_inclusion),
        fromHex(cp.root_hash, "root hash"),
      );
    if (!included) {
      return reject(
        "head_not_included",
        own === undefined
          ? `bundle ${cp.tree_size} is not in the local journal`
          : `bundle ${cp.tree_size} of this appliance is not the checkpoint's newest leaf`,
      );
    }
  }
  return { ok: true, checkpoint: cp, fromSize: last.treeSize };
}

/** Verifies a checkpoint document on its own: schema and signature. */
export function verifyCheckpoint(
  raw: unknown,
  key: VerificationKey,
): { ok: true; checkpoint: Checkpoint } | { ok: false; detail: string } {
  const parsed = tryParseMessage(Checkpoint, raw);
  if (!parsed.ok) return { ok: false, detail: parsed.problem };
  if (!verifyDocument(parsed.value, key)) {
    return { ok: false, detail: "signature does not verify with the control-plane key" };
  }
  return { ok: true, checkpoint: parsed.value };
}
