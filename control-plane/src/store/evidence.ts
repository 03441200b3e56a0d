import type { Kysely } from "kysely";
import { insertCosignatures } from "./cosignatures.ts";
import type { ArchiveRow, EvidenceStore } from "./port.ts";
import { changedOne } from "./rows.ts";
import type { Database } from "./schema.ts";

/**
 * Evidence bundles and their hash chain per appliance. The chain's head lives on the appliance
 * row; an append moves it by compare-and-swap, so a concurrent upload of the same range loses
 * and nothing forks. Every query is scoped by tenant and appliance, except listEvidenceHeads,
 * the vault jobs' walk over all appliances.
 */
export function evidenceQueries(db: Kysely<Database>): EvidenceStore {
  /** Evidence rows in seq order after `afterSeq`, with their receipt time. */
  const rowsAfter = async (
    tenantId: string,
    applianceId: string,
    afterSeq: number,
    limit: number,
  ): Promise<(ArchiveRow & { prevHash: string })[]> => {
    const rows = await db
      .selectFrom("evidence")
      .select(["seq", "hash", "prev_hash", "bundle_json", "received_at"])
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      hash: r.hash,
      prevHash: r.prev_hash,
      bundleJson: r.bundle_json,
      receivedAt: r.received_at,
    }));
  };

  return {
    async evidenceHashes(tenantId, applianceId, fromSeq, toSeq) {
      const rows = await db
        .selectFrom("evidence")
        .select(["seq", "hash"])
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("seq", ">=", fromSeq)
        .where("seq", "<=", toSeq)
        .execute();
      return new Map(rows.map((r) => [Number(r.seq), r.hash]));
    },

    async appendEvidence(tenantId, applianceId, from, rows, receivedAt, cosignatures = []) {
      const last = rows.at(-1);
      if (!last) return true;
      return db.transaction().execute(async (tx) => {
        // Compare-and-swap on the head: a concurrent upload of the same range loses here.
        const moved = await tx
          .updateTable("appliances")
          .set({ evidence_head_seq: last.seq, evidence_head_hash: last.hash })
          .where("tenant_id", "=", tenantId)
          .where("appliance_id", "=", applianceId)
          .where("evidence_head_seq", "=", from.seq)
          .where("evidence_head_hash", "=", from.hash)
          .executeTakeFirst();
        if (!changedOne(moved)) return false;
        for (let i = 0; i < rows.length; i += 100) {
          await tx
            .insertInto("evidence")
            .values(
              rows.slice(i, i + 100).map((r) => ({
                tenant_id: tenantId,
                appliance_id: applianceId,
                seq: r.seq,
                hash: r.hash,
                prev_hash: r.prevHash,
                bundle_json: r.bundleJson,
                received_at: receivedAt,
              })),
            )
            .execute();
        }
        // In the same transaction: a failure here leaves neither the bundles nor the head moved.
        await insertCosignatures(tx, cosignatures);
        return true;
      });
    },

    async listEvidence(tenantId, applianceId, afterSeq, limit) {
      const rows = await rowsAfter(tenantId, applianceId, afterSeq, limit);
      return rows.map(({ seq, hash, prevHash, bundleJson }) => ({
        seq,
        hash,
        prevHash,
        bundleJson,
      }));
    },

    listEvidenceForArchive: rowsAfter,

    async listEvidenceHeads() {
      const rows = await db
        .selectFrom("appliances")
        .select(["tenant_id", "appliance_id", "evidence_head_seq", "evidence_head_hash"])
        .where("evidence_head_seq", ">", 0)
        .orderBy("tenant_id")
        .orderBy("appliance_id")
        .execute();
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        applianceId: r.appliance_id,
        head: { seq: Number(r.evidence_head_seq), hash: r.evidence_head_hash },
      }));
    },

    async evidenceSeqRange(tenantId, applianceId, fromAt, toAt) {
      const row = await db
        .selectFrom("evidence")
        .select((eb) => [eb.fn.min("seq").as("first"), eb.fn.max("seq").as("last")])
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("received_at", ">=", fromAt)
        .where("received_at", "<", toAt)
        .executeTakeFirst();
      if (!row || row.first === null || row.last === null) return undefined;
      return { first: Number(row.first), last: Number(row.last) };
    },
  };
}
