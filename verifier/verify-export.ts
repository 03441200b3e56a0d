import { join } from "node:path";
import { type CheckStateLine, EXPORT_FILES, type ExportRangeBasis } from "../protocol/index.ts";
import { NO_PINS, type Pins } from "./pins.ts";
import type { ExportFailure, StepResult } from "./result.ts";
import { verifyBundles } from "./steps/bundles.ts";
import { verifyChain, verifyEnrollmentStatement } from "./steps/chain.ts";
import { verifyCheckpoints } from "./steps/checkpoints.ts";
import { verifyStoredCosignatures } from "./steps/cosignatures.ts";
import { type PinState, readExportFile, verifyManifest } from "./steps/manifest.ts";
import { verifyRoots } from "./steps/roots.ts";
import { digestSegments, readWormList, segmentsInside, verifyWorm } from "./steps/worm.ts";

export type { ExportFailure, ExportFailureReason } from "./result.ts";

/**
 * The offline auditor verifier: given an export directory and the auditor's pins (no network, no
 * control plane), it runs one step after another, each returning its result, and stops at the
 * first failure: manifest and keys against the pins, every bundle (canonical bytes, signature),
 * the chain and the enrollment statement, the checkpoints and their proofs, every root recomputed
 * with what the appliance itself verified and cosigned, and WORM anchoring. Without pins for both
 * keys it still checks everything but does not call the export trusted (`unpinned`).
 */
export interface ExportSummary {
  readonly ok: boolean;
  /** Whether both keys were checked against the auditor's pins. */
  readonly pins: { readonly control_plane: PinState; readonly appliance: PinState };
  readonly tenant_id?: string;
  readonly appliance_id?: string;
  readonly control_plane_key_id?: string;
  readonly appliance_key_id?: string;
  readonly seq_range?: readonly [number, number];
  readonly range_basis?: ExportRangeBasis;
  readonly requested_range?: readonly [string, string];
  readonly bundles: number;
  readonly signatures_verified: number;
  readonly chain_links_verified: number;
  readonly enrollment_statement_verified: boolean;
  readonly checkpoints: number;
  readonly checkpoints_verified: number;
  readonly consistency_proofs_verified: number;
  readonly inclusion_proofs_verified: number;
  readonly roots_recomputed: number;
  readonly appliance_seen_checkpoints_matched: number;
  readonly cosignatures_verified: number;
  /** Lines of cosignatures.jsonl (the control plane's stored cosignatures) that verified. */
  readonly stored_cosignatures_verified: number;
  readonly checkpoints_cosigned: number;
  /** Whether the export's last checkpoint carries the appliance's witness cosignature. */
  readonly last_checkpoint_cosigned: boolean;
  /** Checkpoints and segments inside the export whose bytes match their WORM object's SHA-256. */
  readonly worm_objects_matched: number;
  readonly worm_objects_archived: number;
  /** What of the export has no archived WORM object (a failure unless the archive is the lab's). */
  readonly not_archived: readonly string[];
  /** With `asOf`: each check's state at that instant, from the verified evidence only. */
  readonly as_of?: { readonly at: string; readonly checks: readonly CheckStateLine[] };
  readonly first_failure?: ExportFailure;
}

export interface VerifyOptions {
  /**
   * Threads for the bundles: this one and `workers - 1` worker threads; 0 or 1 verifies in this
   * thread alone. Default: one per core for large exports.
   */
  readonly workers?: number;
  /** The auditor's trust roots. Without both, the summary is `ok: false` unless `allowUnpinned`. */
  readonly pins?: Pins;
  readonly allowUnpinned?: boolean;
  /** An instant (ISO 8601): also answer each check's state then. */
  readonly asOf?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export async function verifyExport(
  directory: string,
  options: VerifyOptions = {},
): Promise<ExportSummary> {
  const summary: Mutable<ExportSummary> = {
    ok: false,
    pins: { control_plane: "unpinned", appliance: "unpinned" },
    bundles: 0,
    signatures_verified: 0,
    chain_links_verified: 0,
    enrollment_statement_verified: false,
    checkpoints: 0,
    checkpoints_verified: 0,
    consistency_proofs_verified: 0,
    inclusion_proofs_verified: 0,
    roots_recomputed: 0,
    appliance_seen_checkpoints_matched: 0,
    cosignatures_verified: 0,
    stored_cosignatures_verified: 0,
    checkpoints_cosigned: 0,
    last_checkpoint_cosigned: false,
    worm_objects_matched: 0,
    worm_objects_archived: 0,
    not_archived: [],
  };
  const stop = (step: StepResult<unknown> & { ok: false }): ExportSummary => ({
    ...summary,
    ok: false,
    first_failure: step.failure,
  });
  const path = (name: string) => join(directory, name);

  // 1. Manifest, keys, pins.
  const head = verifyManifest(directory, options.pins ?? NO_PINS);
  if (!head.ok) return stop(head);
  const { manifest, controlPlaneKey, applianceKey } = head.value;
  Object.assign(summary, {
    pins: head.value.pins,
    tenant_id: manifest.tenant_id,
    appliance_id: manifest.appliance_id,
    control_plane_key_id: controlPlaneKey.keyId,
    appliance_key_id: applianceKey.keyId,
    seq_range: [manifest.first_seq, manifest.last_seq],
    range_basis: manifest.range_basis,
    requested_range: [manifest.requested_from, manifest.requested_to],
  });

  // The WORM list is read now so that its segments are hashed once the bundles are read.
  const wormText = readExportFile(directory, EXPORT_FILES.wormObjects);
  if (!wormText.ok) return stop(wormText);
  const worm = readWormList(wormText.value, EXPORT_FILES.wormObjects, manifest, controlPlaneKey);
  if (!worm.ok) return stop(worm);
  const inside = segmentsInside(worm.value, manifest);
  const digests = (
    inside.length > 0
      ? digestSegments(path(EXPORT_FILES.bundles), manifest.first_seq, inside)
      : Promise.resolve(new Map<string, string>())
  ).catch(() => new Map<string, string>());

  // 2. Every bundle.
  const asOfMs = options.asOf === undefined ? undefined : Date.parse(options.asOf);
  const bundles = await verifyBundles(
    path(EXPORT_FILES.bundles),
    EXPORT_FILES.bundles,
    options.workers,
    {
      publicKeyPem: applianceKey.pem,
      keyId: applianceKey.keyId,
      tenantId: manifest.tenant_id,
      applianceId: manifest.appliance_id,
      ...(asOfMs !== undefined ? { asOfMs } : {}),
    },
  );
  if (!bundles.ok) {
    await digests;
    return stop(bundles);
  }
  const b = bundles.value;
  summary.bundles = b.total;
  summary.signatures_verified = b.total;
  summary.cosignatures_verified = b.cosignaturesVerified;

  // 3. The chain; 4. the enrollment statement.
  const chain = verifyChain(b, manifest, EXPORT_FILES.bundles);
  if (!chain.ok) return stop(chain);
  summary.chain_links_verified = chain.value.links;
  const statement = verifyEnrollmentStatement(b, manifest, EXPORT_FILES.bundles);
  if (!statement.ok) return stop(statement);
  summary.enrollment_statement_verified = statement.value.stated;

  // 5. Checkpoints and their proofs.
  const cpText = readExportFile(directory, EXPORT_FILES.checkpoints);
  if (!cpText.ok) return stop(cpText);
  const checkpoints = verifyCheckpoints(
    cpText.value,
    EXPORT_FILES.checkpoints,
    manifest,
    controlPlaneKey,
    b,
  );
  if (!checkpoints.ok) return stop(checkpoints);
  const cps = checkpoints.value;
  Object.assign(summary, {
    checkpoints: cps.lines,
    consistency_proofs_verified: cps.consistencyProofs,
    inclusion_proofs_verified: cps.inclusionProofs,
  });

  // The witness cosignatures the control plane stored, the last checkpoint's among them.
  const cosText = readExportFile(directory, EXPORT_FILES.cosignatures);
  if (!cosText.ok) return stop(cosText);
  const stored = verifyStoredCosignatures(
    cosText.value,
    EXPORT_FILES.cosignatures,
    manifest,
    applianceKey,
    b,
  );
  if (!stored.ok) return stop(stored);
  summary.stored_cosignatures_verified = stored.value.length;

  // 6. Roots, and what the appliance verified, cosigned or refused.
  const roots = verifyRoots(b, manifest, cps.checkpoints, stored.value, {
    manifest: EXPORT_FILES.manifest,
    bundles: EXPORT_FILES.bundles,
    checkpoints: EXPORT_FILES.checkpoints,
    cosignatures: EXPORT_FILES.cosignatures,
  });
  if (!roots.ok) return stop(roots);
  Object.assign(summary, {
    roots_recomputed: roots.value.rootsRecomputed,
    checkpoints_verified: roots.value.rootsRecomputed,
    appliance_seen_checkpoints_matched: roots.value.applianceSeenMatched,
    checkpoints_cosigned: roots.value.checkpointsCosigned,
    last_checkpoint_cosigned: roots.value.lastCheckpointCosigned,
  });

  // 7. WORM anchoring.
  const anchored = await verifyWorm(worm.value, manifest, cps.checkpoints, digests, {
    bundles: EXPORT_FILES.bundles,
    bundlesPath: path(EXPORT_FILES.bundles),
    worm: EXPORT_FILES.wormObjects,
  });
  if (!anchored.ok) return stop(anchored);
  Object.assign(summary, {
    worm_objects_matched: anchored.value.matched,
    worm_objects_archived: anchored.value.archived,
    not_archived: anchored.value.notArchived,
  });

  // The point-in-time answer, from evidence that has now verified in full.
  if (options.asOf !== undefined) {
    summary.as_of = { at: options.asOf, checks: b.checkStates };
  }

  // 8. Trust: everything verified; without both pins it verified only against itself.
  const pinned = summary.pins.control_plane === "pinned" && summary.pins.appliance === "pinned";
  if (!pinned && !options.allowUnpinned) {
    const missing = [
      summary.pins.control_plane === "unpinned" ? "the control-plane key" : undefined,
      summary.pins.appliance === "unpinned" ? "the appliance key" : undefined,
    ].filter(Boolean);
    return {
      ...summary,
      ok: false,
      first_failure: {
        reason: "unpinned",
        detail: `no pin for ${missing.join(" and ")}: the export verified only against the keys it carries`,
        file: EXPORT_FILES.manifest,
      },
    };
  }
  return { ...summary, ok: true };
}
