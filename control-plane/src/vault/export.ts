import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  type Checkpoint,
  canonicalize,
  checkpointDelivery,
  EvidenceBundle,
  EXPORT_FILES,
  type ExportCosignature,
  ExportManifest,
  type ExportRangeBasis,
  publicKeyFromBase64,
  publicKeyToPem,
  SignedWormObjectList,
  type Signer,
  signDocument,
  toHex,
  verificationKey,
  type WormObjectRecord,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { Store } from "../store/index.ts";
import { canonicalLine, type Vault } from "./vault.ts";

/**
 * An evidence export for an auditor: one site (appliance), the bundles of a date range (by the
 * time the control plane received them, or the time the appliance recorded them: the manifest
 * says which), extended to the next signed checkpoint so the export ends on a signed tree size; the
 * checkpoints covering them with consistency and head-inclusion proofs; the appliance's witness
 * cosignatures of those checkpoints; both public keys; the WORM object list, signed; and a manifest signed by the control plane. Only the fixed file names of
 * EXPORT_FILES are written, into a directory that must not exist yet.
 */
export interface ExportRequest {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly from: string;
  readonly to: string;
  /** Which clock the range is read on; received_at when not given. */
  readonly basis?: ExportRangeBasis;
  readonly directory: string;
}

export async function writeExport(
  deps: { store: Store; vault: Vault; signer: Signer; archiveKind: string; now: () => Date },
  req: ExportRequest,
): Promise<ExportManifest> {
  const { store, vault } = deps;
  const { tenantId, applianceId } = req;
  const appliance = await store.getAppliance(tenantId, applianceId);
  if (!appliance?.evidencePublicKey) {
    throw new ControlPlaneError("not_found", "no enrolled appliance with that id");
  }
  if (!(Date.parse(req.from) < Date.parse(req.to))) {
    throw new ControlPlaneError("invalid_request", "from must be before to");
  }
  const basis = req.basis ?? "received_at";
  const range =
    basis === "received_at"
      ? await store.evidenceSeqRange(tenantId, applianceId, req.from, req.to)
      : await recordedSeqRange(store, tenantId, applianceId, req.from, req.to);
  if (!range) throw new ControlPlaneError("not_found", "no evidence received in that range");
  // Make sure a checkpoint covers the end of the range.
  await vault.publishCheckpoints();
  const checkpoints = await store.listCheckpoints(
    tenantId,
    applianceId,
    range.first,
    Number.MAX_SAFE_INTEGER,
  );
  const endIndex = checkpoints.findIndex((c) => c.treeSize >= range.last);
  if (endIndex < 0) throw new ControlPlaneError("unavailable", "no checkpoint covers the range");
  const included = checkpoints.slice(0, endIndex + 1);
  const lastSeq = (included.at(-1) as (typeof included)[number]).treeSize;
  const tree = await vault.treeFor(tenantId, applianceId, lastSeq);

  mkdirSync(req.directory, { recursive: false, mode: 0o700 });
  const file = (name: string) => join(req.directory, name);

  // Bundles in canonical (RFC 8785) form, one per line: the signed bytes are the line without
  // its "sig" member, which plain tools can cut out (docs/auditor.md).
  const out = openSync(file(EXPORT_FILES.bundles), "wx", 0o600);
  let count = 0;
  try {
    for (let after = range.first - 1; after < lastSeq; ) {
      const rows = await store.listEvidence(
        tenantId,
        applianceId,
        after,
        Math.min(5000, lastSeq - after),
      );
      if (rows.length === 0) break;
      writeSync(out, rows.map((r) => `${canonicalLine(r.bundleJson)}\n`).join(""));
      count += rows.length;
      after = (rows.at(-1) as (typeof rows)[number]).seq;
    }
  } finally {
    closeSync(out);
  }
  if (count !== lastSeq - range.first + 1) {
    throw new ControlPlaneError("internal", "stored evidence is incomplete for the export");
  }

  let previous = 0;
  const lines = included.map((c) => {
    const line = checkpointDelivery(JSON.parse(c.checkpointJson) as Checkpoint, tree, previous);
    previous = c.treeSize;
    return canonicalize(line);
  });
  writeFileSync(file(EXPORT_FILES.checkpoints), `${lines.join("\n")}\n`, { flag: "wx" });

  // The appliance's witness cosignatures of the checkpoints whose roots this export recomputes,
  // including those that later bundles carried (the last checkpoint's, typically).
  const cosignatures = await store.listCosignatures(
    tenantId,
    applianceId,
    Math.max(1, range.first - 1),
    lastSeq,
  );
  const cosignatureLines = cosignatures.map(
    (c) =>
      `${canonicalize({
        seq: c.evidenceSeq,
        tree_size: c.treeSize,
        root_hash: c.rootHash,
        cosignature: c.cosignature,
      } satisfies ExportCosignature)}\n`,
  );
  writeFileSync(file(EXPORT_FILES.cosignatures), cosignatureLines.join(""), { flag: "wx" });

  const objects: WormObjectRecord[] = (await store.listVaultObjects(tenantId, applianceId)).map(
    (o) => ({
      key: o.objectKey,
      kind: o.kind,
      first_seq: o.firstSeq,
      last_seq: o.lastSeq,
      sha256: o.sha256,
      bytes: o.byteLength,
      status: o.status,
      archive: o.archive,
      version_id: o.versionId,
      retain_until: o.retainUntil,
      archived_at: o.archivedAt,
    }),
  );
  const wormList = signDocument<SignedWormObjectList>(
    SignedWormObjectList,
    { v: 1, type: "worm_object_list", tenant_id: tenantId, appliance_id: applianceId, objects },
    deps.signer,
  );
  writeFileSync(file(EXPORT_FILES.wormObjects), `${canonicalize(wormList)}\n`, {
    flag: "wx",
  });

  const applianceKey = verificationKey(publicKeyFromBase64(appliance.evidencePublicKey));
  writeFileSync(file(EXPORT_FILES.applianceKey), publicKeyToPem(applianceKey.publicKey), {
    flag: "wx",
  });
  writeFileSync(file(EXPORT_FILES.controlPlaneKey), publicKeyToPem(deps.signer.publicKey), {
    flag: "wx",
  });

  const manifest = signDocument<ExportManifest>(
    ExportManifest,
    {
      v: 1,
      type: "evidence_export",
      tenant_id: tenantId,
      appliance_id: applianceId,
      requested_from: new Date(req.from).toISOString(),
      requested_to: new Date(req.to).toISOString(),
      range_basis: basis,
      first_seq: range.first,
      last_seq: lastSeq,
      bundle_count: count,
      prefix_frontier: tree.frontier(range.first - 1).map(toHex),
      checkpoint_count: included.length,
      control_plane_key_id: deps.signer.keyId,
      appliance_key_id: applianceKey.keyId,
      archive: deps.archiveKind,
      created_at: deps.now().toISOString(),
    },
    deps.signer,
  );
  writeFileSync(file(EXPORT_FILES.manifest), `${canonicalize(manifest)}\n`, {
    flag: "wx",
  });
  return manifest;
}

/**
 * The seq range of the bundles the appliance recorded (its own clock, signed in each bundle) in
 * [from, to): the lowest and highest such seq. The appliance clock is not monotonic, so bundles
 * between them recorded outside the range are included too (a chain has no holes). This reads
 * every bundle of the appliance once: the store keeps no column of the recorded time.
 */
async function recordedSeqRange(
  store: Store,
  tenantId: string,
  applianceId: string,
  from: string,
  to: string,
): Promise<{ first: number; last: number } | undefined> {
  const [fromMs, toMs] = [Date.parse(from), Date.parse(to)];
  let first: number | undefined;
  let last: number | undefined;
  for (let after = 0; ; ) {
    const rows = await store.listEvidence(tenantId, applianceId, after, 5000);
    if (rows.length === 0) break;
    for (const row of rows) {
      const bundle = EvidenceBundle.parse(JSON.parse(row.bundleJson));
      const at = Date.parse(bundle.recorded_at);
      if (at >= fromMs && at < toMs) {
        first ??= row.seq;
        last = row.seq;
      }
    }
    after = (rows.at(-1) as (typeof rows)[number]).seq;
  }
  return first === undefined || last === undefined ? undefined : { first, last };
}
