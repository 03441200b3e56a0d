import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  bundleLeafHash,
  type ChainHead,
  canonicalize,
  checkpointDelivery,
  cosignCheckpoint,
  createSigner,
  type EvidenceEvent,
  EXPORT_FILES,
  type ExportCosignature,
  ExportManifest,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  MerkleTree,
  publicKeyToPem,
  SignedWormObjectList,
  type Signer,
  sealBundle,
  sha256Hex,
  signCheckpoint,
  signDocument,
  toHex,
  type WormObjectRecord,
} from "../../protocol/index.ts";

function wormRecord(
  key: string,
  kind: "segment" | "checkpoint",
  first: number,
  last: number,
  sha256: string,
  bytes: number,
): WormObjectRecord {
  return {
    key,
    kind,
    first_seq: first,
    last_seq: last,
    sha256,
    bytes,
    status: "archived",
    archive: "local-not-worm",
    version_id: null,
    retain_until: "2032-11-25T00:00:00.000Z",
    archived_at: "2026-11-25T00:00:00.000Z",
  };
}

/**
 * Writes an evidence export the way the control plane's exporter lays it out
 * (control-plane/src/vault/export.ts), from protocol/ alone: for the verifier's tests and the
 * 1,000,000-bundle bench. `checkpointEvery` bundles get a signed checkpoint, and the last bundle
 * always does. Some bundles record a `checkpoint_verified` event, as a real appliance would.
 */
export interface SyntheticExport {
  readonly directory: string;
  readonly controlPlane: Signer;
  readonly appliance: Signer;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly bundles: number;
  /** Tree sizes of the checkpoints written, in order. */
  readonly checkpointSizes: readonly number[];
}

export function writeSyntheticExport(options: {
  directory: string;
  bundles: number;
  checkpointEvery: number;
  /** Export from this seq (the earlier bundles are represented by the prefix frontier). */
  firstSeq?: number;
  /** Makes the appliance's checkpoint_verified record at this seq carry another root. */
  splitViewAt?: number;
  /** The first bundle: the enrollment statement (default), one naming another control-plane key id, or none. */
  enrollment?: "statement" | { controlPlaneKeyId: string } | "none";
  /** Makes the cosignature in the checkpoint_verified bundle at this seq one by another key. */
  badCosignatureAt?: number;
  /**
   * Seals the bundle at this seq (validly signed) on a prev_hash that is not the previous
   * bundle's hash; the log, checkpoints and WORM list are made of the bundles as written.
   */
  brokenLinkAt?: number;
  /** Makes the bundle at this seq the appliance's refusal of a rolled-back checkpoint. */
  refusedAt?: number;
  /** Keys to use instead of fresh ones (a fabricated history with a real control-plane key). */
  controlPlane?: Signer;
  appliance?: Signer;
  /** The archive kind in the manifest; "s3" makes an unarchived object a failure. */
  archive?: string;
  /** false: the control plane holds no cosignature of the last checkpoint (default true). */
  cosignLast?: boolean;
  /** Leaves the segments after this seq out of the WORM list. */
  archivedThrough?: number;
}): SyntheticExport {
  const controlPlane = options.controlPlane ?? createSigner(generateEd25519KeyPair().privateKey);
  const appliance = options.appliance ?? createSigner(generateEd25519KeyPair().privateKey);
  const tenantId = "clinic-a";
  const applianceId = "clinic-a-01";
  const firstSeq = options.firstSeq ?? 1;
  const start = Date.parse("2026-11-01T00:00:00Z");
  const tree = new MerkleTree();
  const sizes: number[] = [];
  mkdirSync(options.directory, { recursive: true });
  const out = openSync(join(options.directory, EXPORT_FILES.bundles), "w");
  let head: ChainHead = GENESIS_HEAD;
  let lastCheckpoint: { size: number; root: string } | undefined;
  let buffer: string[] = [];
  let segment = createHash("sha256");
  let segmentBytes = 0;
  const worm: WormObjectRecord[] = [];
  const stored: ExportCosignature[] = [];
  try {
    for (let seq = 1; seq <= options.bundles; seq++) {
      const cosigned = lastCheckpoint && {
        tenant_id: tenantId,
        appliance_id: applianceId,
        tree_size: lastCheckpoint.size,
        root_hash: seq === options.splitViewAt ? "f".repeat(64) : lastCheckpoint.root,
      };
      const event: EvidenceEvent =
        seq === 1 && options.enrollment !== "none"
          ? {
              kind: "enrollment_statement",
              key_id: appliance.keyId,
              control_plane_key_id:
                typeof options.enrollment === "object"
                  ? options.enrollment.controlPlaneKeyId
                  : controlPlane.keyId,
              agent_version: "0.1.0",
            }
          : seq === options.refusedAt
            ? {
                kind: "alert",
                code: "checkpoint_rollback",
                severity: "critical",
                subject: "checkpoint 1 00",
                message: "tree size 1 is below 20 verified",
              }
            : cosigned && seq % options.checkpointEvery === 1
              ? {
                  kind: "checkpoint_verified",
                  tree_size: cosigned.tree_size,
                  root_hash: cosigned.root_hash,
                  issued_at: new Date(start).toISOString(),
                  from_size: 0,
                  cosignature: cosignCheckpoint(
                    cosigned,
                    seq === options.badCosignatureAt ? controlPlane : appliance,
                    start / 1000 + seq,
                  ),
                }
              : {
                  kind: "check_result",
                  check_id: [
                    "patching",
                    "services",
                    "backups",
                    "firewall",
                    "logging",
                    "encryption",
                  ][seq % 6] as string,
                  status: seq % 17 === 0 ? "drift" : "pass",
                  severity: "medium",
                  findings:
                    seq % 17 === 0
                      ? [
                          {
                            code: "unit_inactive",
                            subject: "chronyd.service",
                            expected: "active",
                            observed: "failed",
                          },
                        ]
                      : [],
                  duration_ms: seq % 250,
                };
      const sealed = sealBundle(
        {
          tenant_id: tenantId,
          appliance_id: applianceId,
          recorded_at: new Date(start + seq * 10_000).toISOString(),
          event,
        },
        seq === options.brokenLinkAt ? { ...head, hash: "ab".repeat(32) } : head,
        appliance,
      );
      head = sealed.head;
      if (event.kind === "checkpoint_verified" && event.cosignature !== undefined) {
        stored.push({
          seq,
          tree_size: event.tree_size,
          root_hash: event.root_hash,
          cosignature: event.cosignature,
        });
      }
      tree.append(bundleLeafHash(head.hash));
      if (seq >= firstSeq) {
        const line = `${canonicalize(sealed.bundle)}\n`;
        buffer.push(line);
        segment.update(line);
        segmentBytes += Buffer.byteLength(line);
      }
      if (buffer.length >= 10_000) {
        writeSync(out, buffer.join(""));
        buffer = [];
      }
      if (seq % options.checkpointEvery === 0 || seq === options.bundles) {
        lastCheckpoint = { size: seq, root: toHex(tree.root()) };
        if (seq >= firstSeq) {
          const archived = seq <= (options.archivedThrough ?? Number.POSITIVE_INFINITY);
          sizes.push(seq);
          const first = Math.max(firstSeq, (sizes.at(-2) ?? 0) + 1);
          if (archived) {
            worm.push(
              wormRecord(
                `${tenantId}/${applianceId}/evidence/${first}-${seq}.jsonl`,
                "segment",
                first,
                seq,
                segment.digest("hex"),
                segmentBytes,
              ),
            );
          }
        }
        segment = createHash("sha256");
        segmentBytes = 0;
      }
    }
    writeSync(out, buffer.join(""));
  } finally {
    closeSync(out);
  }

  let previous = 0;
  const lines = sizes.map((size) => {
    const checkpoint = signCheckpoint(
      {
        tenantId,
        applianceId,
        treeSize: size,
        root: tree.root(size),
        issuedAt: new Date(start + size * 10_000).toISOString(),
      },
      controlPlane,
    );
    const line = checkpointDelivery(checkpoint, tree, previous);
    previous = size;
    const body = `${canonicalize(checkpoint)}\n`;
    worm.push(
      wormRecord(
        `${tenantId}/${applianceId}/checkpoints/${size}.json`,
        "checkpoint",
        size,
        size,
        sha256Hex(new TextEncoder().encode(body)),
        Buffer.byteLength(body),
      ),
    );
    return canonicalize(line);
  });
  const file = (name: string) => join(options.directory, name);
  // The appliance cosigns the last checkpoint in the bundle after the export, as a live one does.
  if (lastCheckpoint && options.cosignLast !== false) {
    const cp = {
      tenant_id: tenantId,
      appliance_id: applianceId,
      tree_size: lastCheckpoint.size,
      root_hash: lastCheckpoint.root,
    };
    stored.push({
      seq: options.bundles + 1,
      tree_size: cp.tree_size,
      root_hash: cp.root_hash,
      cosignature: cosignCheckpoint(cp, appliance, start / 1000 + options.bundles + 1),
    });
  }
  const lowest = Math.max(1, firstSeq - 1);
  writeFileSync(
    file(EXPORT_FILES.cosignatures),
    stored
      .filter((c) => c.tree_size >= lowest)
      .map((c) => `${canonicalize(c)}\n`)
      .join(""),
  );
  writeFileSync(file(EXPORT_FILES.checkpoints), `${lines.join("\n")}\n`);
  writeFileSync(file(EXPORT_FILES.controlPlaneKey), publicKeyToPem(controlPlane.publicKey));
  writeFileSync(file(EXPORT_FILES.applianceKey), publicKeyToPem(appliance.publicKey));
  const wormList = signDocument<SignedWormObjectList>(
    SignedWormObjectList,
    {
      v: 1,
      type: "worm_object_list",
      tenant_id: tenantId,
      appliance_id: applianceId,
      objects: worm,
    },
    controlPlane,
  );
  writeFileSync(file(EXPORT_FILES.wormObjects), `${canonicalize(wormList)}\n`);
  const manifest = signDocument<ExportManifest>(
    ExportManifest,
    {
      v: 1,
      type: "evidence_export",
      tenant_id: tenantId,
      appliance_id: applianceId,
      requested_from: new Date(start).toISOString(),
      requested_to: new Date(start + (options.bundles + 1) * 10_000).toISOString(),
      range_basis: "received_at",
      first_seq: firstSeq,
      last_seq: options.bundles,
      bundle_count: options.bundles - firstSeq + 1,
      prefix_frontier: tree.frontier(firstSeq - 1).map(toHex),
      checkpoint_count: sizes.length,
      control_plane_key_id: controlPlane.keyId,
      appliance_key_id: appliance.keyId,
      archive: options.archive ?? "local-not-worm",
      created_at: new Date(start).toISOString(),
    },
    controlPlane,
  );
  writeFileSync(file(EXPORT_FILES.manifest), `${canonicalize(manifest)}\n`);
  return {
    directory: options.directory,
    controlPlane,
    appliance,
    tenantId,
    applianceId,
    bundles: options.bundles,
    checkpointSizes: sizes,
  };
}
