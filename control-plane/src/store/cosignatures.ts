import type { Kysely } from "kysely";
import type { CosignatureStore, StoredCosignature } from "./port.ts";
import type { Database } from "./schema.ts";

/**
 * The appliances' witness cosignatures of checkpoints (C2SP tlog-cosignature lines), each kept
 * with the checkpoint it signs and the evidence bundle that carried it. Kept apart from the
 * evidence so that an export can carry the cosignature of its own last checkpoint, which
 * arrives in a bundle after that checkpoint, and so a packet can say which checkpoint is witnessed
 * without reading the chain. One row per carrying bundle, written in the transaction that
 * appends that bundle (evidence.ts): a resent bundle changes nothing.
 */
export async function insertCosignatures(
  db: Kysely<Database>,
  rows: readonly StoredCosignature[],
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto("cosignatures")
    .values(
      rows.map((r) => ({
        tenant_id: r.tenantId,
        appliance_id: r.applianceId,
        evidence_seq: r.evidenceSeq,
        tree_size: r.treeSize,
        root_hash: r.rootHash,
        cosignature: r.cosignature,
        received_at: r.receivedAt,
      })),
    )
    .onConflict((oc) => oc.columns(["tenant_id", "appliance_id", "evidence_seq"]).doNothing())
    .execute();
}

export function cosignatureQueries(db: Kysely<Database>): CosignatureStore {
  return {
    async listCosignatures(tenantId, applianceId, fromSize, toSize) {
      const rows = await db
        .selectFrom("cosignatures")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("tree_size", ">=", fromSize)
        .where("tree_size", "<=", toSize)
        .orderBy("evidence_seq")
        .execute();
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        applianceId: r.appliance_id,
        evidenceSeq: Number(r.evidence_seq),
        treeSize: Number(r.tree_size),
        rootHash: r.root_hash,
        cosignature: r.cosignature,
        receivedAt: r.received_at,
      }));
    },
  };
}
