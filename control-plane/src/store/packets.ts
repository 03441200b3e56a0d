import type { Kysely } from "kysely";
import { packetJobQueries } from "./packet-jobs.ts";
import type { PacketRecord, PacketStore } from "./port.ts";
import { insertUnlessTaken, mapRow } from "./rows.ts";
import type { Database, PacketVersionsTable } from "./schema.ts";

/**
 * Generated compliance packets: one row per version of a tenant's month (the files themselves
 * live in the data directory). Rows are only ever inserted; the primary key (tenant, month,
 * version) lets exactly one of two concurrent regenerations take a version number.
 */
export function packetQueries(db: Kysely<Database>): PacketStore {
  const ofTenant = (tenantId: string) =>
    db.selectFrom("packet_versions").selectAll().where("tenant_id", "=", tenantId);

  return {
    ...packetJobQueries(db),

    addPacketVersion(p) {
      return insertUnlessTaken(() =>
        db
          .insertInto("packet_versions")
          .values({
            tenant_id: p.tenantId,
            month: p.month,
            version: p.version,
            generated_at: p.generatedAt,
            requested_by: p.requestedBy,
            reason: p.reason,
            manifest_sha256: p.manifestSha256,
            previous_manifest_sha256: p.previousManifestSha256,
            files_json: JSON.stringify(p.files),
            counts_json: JSON.stringify(p.counts),
          })
          .execute(),
      );
    },

    async getPacket(tenantId, month, version) {
      let q = ofTenant(tenantId).where("month", "=", month);
      q = version === undefined ? q.orderBy("version", "desc") : q.where("version", "=", version);
      return mapRow(await q.limit(1).executeTakeFirst(), packetRecord);
    },

    async listPackets(tenantId) {
      const rows = await ofTenant(tenantId)
        .orderBy("month", "desc")
        .orderBy("version", "desc")
        .execute();
      return rows.map(packetRecord);
    },
  };
}

function packetRecord(row: PacketVersionsTable): PacketRecord {
  return {
    tenantId: row.tenant_id,
    month: row.month,
    version: Number(row.version),
    generatedAt: row.generated_at,
    requestedBy: row.requested_by,
    reason: row.reason,
    manifestSha256: row.manifest_sha256,
    previousManifestSha256: row.previous_manifest_sha256,
    files: JSON.parse(row.files_json) as Record<string, string>,
    counts: JSON.parse(row.counts_json) as Record<string, number>,
  };
}
