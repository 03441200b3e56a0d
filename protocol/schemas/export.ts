import { z } from "zod";
import {
  ApplianceId,
  ProtocolVersion,
  SequenceCount,
  SequenceNumber,
  Sha256Hex,
  Signature,
  TenantId,
  Timestamp,
} from "./common.ts";
import { CosignatureLine } from "./evidence.ts";

/** The fixed file names of an evidence export; nothing else is read or written. */
export const EXPORT_FILES = {
  manifest: "manifest.json",
  controlPlaneKey: "control-plane.pub.pem",
  applianceKey: "appliance.pub.pem",
  bundles: "bundles.jsonl",
  checkpoints: "checkpoints.jsonl",
  wormObjects: "worm-objects.json",
  cosignatures: "cosignatures.jsonl",
} as const;

/**
 * One line of an export's cosignatures.jsonl: the appliance's witness cosignature of the
 * checkpoint at `tree_size`, as the control plane stored it from the checkpoint_verified bundle
 * `seq` (which may lie after the export: the last checkpoint is cosigned by a later bundle).
 */
export const ExportCosignature = z.strictObject({
  seq: SequenceNumber,
  tree_size: SequenceNumber,
  root_hash: Sha256Hex,
  cosignature: CosignatureLine,
});
export type ExportCosignature = z.infer<typeof ExportCosignature>;

/** One archived (or still queued) object of the WORM outbox, as listed in an export. */
export const WormObjectRecord = z.strictObject({
  key: z.string().min(1).max(300),
  kind: z.enum(["segment", "checkpoint"]),
  first_seq: SequenceCount,
  last_seq: SequenceCount,
  sha256: Sha256Hex,
  bytes: z.int().min(0),
  status: z.enum(["pending", "archived"]),
  archive: z.string().max(40).nullable(),
  version_id: z.string().max(1024).nullable(),
  retain_until: Timestamp.nullable(),
  archived_at: Timestamp.nullable(),
});
export type WormObjectRecord = z.infer<typeof WormObjectRecord>;
export const WormObjectList = z.array(WormObjectRecord).max(1_000_000);

/**
 * The WORM list of an export, signed by the control plane: each object's key, version id,
 * retain-until and checksum are the control plane's signed statement, so a list with records
 * removed or edited no longer verifies.
 */
export const SignedWormObjectList = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("worm_object_list"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  objects: WormObjectList,
  sig: Signature,
});
export type SignedWormObjectList = z.infer<typeof SignedWormObjectList>;

/**
 * Which clock chose the bundles of an export's date range: when the control plane received them
 * (its own clock) or when the appliance recorded them (the appliance's clock, signed in each
 * bundle). Either way the export is then extended to the next signed checkpoint.
 */
export const ExportRangeBasis = z.enum(["received_at", "recorded_at"]);
export type ExportRangeBasis = z.infer<typeof ExportRangeBasis>;

/**
 * The manifest of an evidence export for one site (appliance) and a date range, signed by the
 * control plane. The bundles are `first_seq..last_seq`; `last_seq` is always the size of a
 * signed checkpoint, so nothing at the end can be dropped unseen. When the export does not start
 * at seq 1, `prefix_frontier` holds the roots of the complete subtrees over bundles
 * 1..first_seq-1 (largest first): with them the verifier recomputes every checkpoint's root.
 */
export const ExportManifest = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("evidence_export"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  requested_from: Timestamp,
  requested_to: Timestamp,
  range_basis: ExportRangeBasis,
  first_seq: SequenceNumber,
  last_seq: SequenceNumber,
  bundle_count: z.int().min(1),
  prefix_frontier: z.array(Sha256Hex).max(64),
  checkpoint_count: z.int().min(1),
  control_plane_key_id: Sha256Hex,
  appliance_key_id: Sha256Hex,
  /** "s3" (Object Lock) or "local-not-worm" (lab): where the vault archived these objects. */
  archive: z.string().max(40),
  created_at: Timestamp,
  sig: Signature,
});
export type ExportManifest = z.infer<typeof ExportManifest>;
