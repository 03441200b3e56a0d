import { z } from "zod";
import {
  ApplianceId,
  ProtocolVersion,
  SequenceCount,
  Sha256Hex,
  Signature,
  TenantId,
  Timestamp,
} from "./common.ts";

/** Hashes in a proof: at most one per tree level, and sizes stay below 2^53. */
export const MerkleProof = z.array(Sha256Hex).max(64);

/**
 * A signed checkpoint of one appliance's Merkle log (RFC 9162 §4.10 "signed tree head" in
 * spirit): the tree over its first `tree_size` bundles has root `root_hash`. Leaf n is the bundle
 * with seq n + 1 and its leaf data is that bundle's 32-byte hash (protocol/merkle.ts). Signed by
 * the control plane's order-signing key, which every appliance already pins; `type` is inside the
 * signed bytes, so a checkpoint signature never passes for an order's.
 */
export const Checkpoint = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("checkpoint"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  tree_size: SequenceCount,
  root_hash: Sha256Hex,
  issued_at: Timestamp,
  sig: Signature,
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/**
 * The latest checkpoint as delivered in a poll response: with the consistency proof from the
 * tree size the appliance said it verified last (`from_size`, 0 when none), and the inclusion
 * proof of the newest leaf (bundle `tree_size`), so the appliance can see its own head is in it.
 */
export const CheckpointDelivery = z.strictObject({
  checkpoint: Checkpoint,
  from_size: SequenceCount,
  consistency: MerkleProof,
  head_inclusion: MerkleProof,
});
export type CheckpointDelivery = z.infer<typeof CheckpointDelivery>;
