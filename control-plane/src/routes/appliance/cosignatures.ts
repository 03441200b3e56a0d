import { type EvidenceBundle, type VerificationKey, verifyCosignature } from "#protocol";
import type { StoredCosignature } from "../../store/index.ts";

/**
 * The appliance's witness cosignatures in bundles about to be stored (each checkpoint_verified
 * event carries one, C2SP cosignature/v1 with the evidence key), checked with that key: the rows
 * to store with those bundles, in the same transaction, for exports and packets. A cosignature
 * that does not verify is not kept and is returned for an alert: the bundle itself verified, so
 * the appliance signed something broken.
 */
export function witnessCosignatures(
  ids: { tenantId: string; applianceId: string },
  key: VerificationKey,
  bundles: readonly EvidenceBundle[],
  receivedAt: string,
): { rows: StoredCosignature[]; refused: string[] } {
  const rows: StoredCosignature[] = [];
  const refused: string[] = [];
  for (const bundle of bundles) {
    const event = bundle.event;
    if (event.kind !== "checkpoint_verified" || event.cosignature === undefined) continue;
    const cp = {
      tenant_id: ids.tenantId,
      appliance_id: ids.applianceId,
      tree_size: event.tree_size,
      root_hash: event.root_hash,
    };
    const verdict = verifyCosignature(cp, event.cosignature, key.publicKey);
    if (!verdict.ok) {
      refused.push(`seq ${bundle.seq}: ${verdict.detail}`);
      continue;
    }
    rows.push({
      ...ids,
      evidenceSeq: bundle.seq,
      treeSize: event.tree_size,
      rootHash: event.root_hash,
      cosignature: event.cosignature,
      receivedAt,
    });
  }
  return { rows, refused };
}
