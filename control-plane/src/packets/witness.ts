import { type VerificationKey, verifyCosignature } from "#protocol";
import type { Store, StoredCheckpoint } from "../store/index.ts";

/**
 * Whether the appliance cosigned `checkpoint` as the log's witness, read from the stored
 * cosignatures: the list an export of the same range carries (vault/export.ts), so the packet
 * and the export state the same thing. A bundle may carry a cosignature that did not verify on
 * upload; only the kept ones count, and each is checked again with the appliance key here.
 */
export async function checkpointCosigned(
  store: Store,
  checkpoint: StoredCheckpoint,
  key: VerificationKey,
): Promise<boolean> {
  const { tenantId, applianceId, treeSize, rootHash } = checkpoint;
  const stored = await store.listCosignatures(tenantId, applianceId, treeSize, treeSize);
  const signed = {
    tenant_id: tenantId,
    appliance_id: applianceId,
    tree_size: treeSize,
    root_hash: rootHash,
  };
  return stored.some(
    (c) => c.rootHash === rootHash && verifyCosignature(signed, c.cosignature, key.publicKey).ok,
  );
}
