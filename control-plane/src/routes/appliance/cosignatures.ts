import { type EvidenceBundle, type VerificationKey, verifyCosignature } from "#protocol";
import type { Services } from "../../env.ts";
import type { StoredCosignature } from "../../store/index.ts";

/**
 * The appliance's witness cosignatures in newly stored bundles (each checkpoint_verified event
 * carries one, C2SP cosignature/v1 with the evidence key), checked with that key and kept in
 * their own table for exports and packets. A cosignature that does not verify is not kept and
 * raises an alert: the bundle itself verified, so the appliance signed something broken.
 */
export async function keepCosignatures(
  s: Services,
  ids: { tenantId: string; applianceId: string },
  key: VerificationKey,
  bundles: readonly EvidenceBundle[],
  receivedAt: string,
  alert: (code: string, detail: string) => Promise<void>,
): Promise<number> {
  const rows: StoredCosignature[] = [];
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
      await alert("cosignature_bad_signature", `seq ${bundle.seq}: ${verdict.detail}`);
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
  await s.store.recordCosignatures(rows);
  return rows.length;
}
