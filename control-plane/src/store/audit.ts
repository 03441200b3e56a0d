import type { Kysely } from "kysely";
import { GENESIS_HEAD } from "#protocol";
import { appendToChain } from "./chain.ts";
import type { AuditStore } from "./port.ts";
import type { Database } from "./schema.ts";

/**
 * The operators' audit log: one hash chain across the control plane. Each entry's hash is
 * computed by the caller's `seal` from its seq and the previous hash, inside the transaction
 * that reads the head, so concurrent writers serialise on the chain's key (appendToChain).
 */
export function auditQueries(db: Kysely<Database>): AuditStore {
  return {
    appendAudit(entry, seal) {
      return appendToChain(db, async (tx) => {
        const last = await tx
          .selectFrom("audit_log")
          .select(["seq", "hash"])
          .orderBy("seq", "desc")
          .limit(1)
          .executeTakeFirst();
        const seq = last ? Number(last.seq) + 1 : 1;
        const prevHash = last ? last.hash : GENESIS_HEAD.hash;
        const hash = seal(seq, prevHash);
        await tx
          .insertInto("audit_log")
          .values({
            seq,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            detail_json: entry.detailJson,
            prev_hash: prevHash,
            hash,
          })
          .execute();
        return { ...entry, seq, prevHash, hash };
      });
    },

    async listAudit(afterSeq, limit) {
      const rows = await db
        .selectFrom("audit_log")
        .selectAll()
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        seq: Number(r.seq),
        at: r.at,
        actor: r.actor,
        action: r.action,
        target: r.target,
        detailJson: r.detail_json,
        prevHash: r.prev_hash,
        hash: r.hash,
      }));
    },
  };
}
