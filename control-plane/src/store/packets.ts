import type { Kysely } from "kysely";
import type { PacketRecord, PacketStore } from "./port.ts";
import type { Database, PacketsTable } from "./schema.ts";

/**
 * Generated compliance packets: one record per tenant and month (the files themselves live in
 * the data directory); a regeneration replaces the record.
 */
export function packetQueries(db: Kysely<Database>): PacketStore {
  const ofTenant = (tenantId: string) =>
    db.selectFrom("packets").selectAll().where("tenant_id", "=", tenantId);

  return {
    async putPacket(p) {
      const values = {
        generated_at: p.generatedAt,
        files_json: JSON.stringify(p.files),
        counts_json: JSON.stringify(p.counts),
      };
      await db
        .insertInto("packets")
        .values({ tenant_id: p.tenantId, month: p.month, ...values })
        .onConflict((oc) => oc.columns(["tenant_id", "month"]).doUpdateSet(values))
        .execute();
    },

    async getPacket(tenantId, month) {
      const row = await ofTenant(tenantId).where("month", "=", month).executeTakeFirst();
      return row ? packetRecord(row) : undefined;
    },

    async listPackets(tenantId) {
      const rows = await ofTenant(tenantId).orderBy("month", "desc").execute();
      return rows.map(packetRecord);
    },
  };
}

function packetRecord(row: PacketsTable): PacketRecord {
  return {
    tenantId: row.tenant_id,
    month: row.month,
    generatedAt: row.generated_at,
    files: JSON.parse(row.files_json) as Record<string, string>,
    counts: JSON.parse(row.counts_json) as Record<string, number>,
  };
}
