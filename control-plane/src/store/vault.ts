import type { Kysely, Selectable } from "kysely";
import type { NewVaultObject, StoredCheckpoint, VaultObject, VaultStore } from "./port.ts";
import { changedOne } from "./rows.ts";
import type { CheckpointsTable, Database, VaultObjectsTable } from "./schema.ts";

/**
 * The evidence vault: signed checkpoints per appliance, the cursor of evidence already sealed
 * into segments, and the durable WORM outbox of objects to archive. Both writers that can race
 * between control-plane instances (a checkpoint of one size, a segment of one range) are
 * compare-and-swap inserts, so the loser queues nothing. Every query is scoped by tenant and
 * appliance, except dueVaultObjects, the outbox job's scan.
 */
export function vaultQueries(db: Kysely<Database>): VaultStore {
  const checkpointsOf = (tenantId: string, applianceId: string) =>
    db
      .selectFrom("checkpoints")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId);

  return {
    insertCheckpoint(cp, object) {
      return db.transaction().execute(async (tx) => {
        const inserted = await tx
          .insertInto("checkpoints")
          .values({
            tenant_id: cp.tenantId,
            appliance_id: cp.applianceId,
            tree_size: cp.treeSize,
            root_hash: cp.rootHash,
            issued_at: cp.issuedAt,
            checkpoint_json: cp.checkpointJson,
          })
          .onConflict((oc) => oc.columns(["tenant_id", "appliance_id", "tree_size"]).doNothing())
          .executeTakeFirst();
        if (!changedOne(inserted)) return false;
        await tx.insertInto("vault_objects").values(objectValues(object)).execute();
        return true;
      });
    },

    async latestCheckpoint(tenantId, applianceId) {
      const row = await checkpointsOf(tenantId, applianceId)
        .orderBy("tree_size", "desc")
        .limit(1)
        .executeTakeFirst();
      return row ? toCheckpoint(row) : undefined;
    },

    async listCheckpoints(tenantId, applianceId, fromSize, toSize) {
      const rows = await checkpointsOf(tenantId, applianceId)
        .where("tree_size", ">=", fromSize)
        .where("tree_size", "<=", toSize)
        .orderBy("tree_size")
        .execute();
      return rows.map(toCheckpoint);
    },

    async segmentCursor(tenantId, applianceId) {
      const row = await db
        .selectFrom("vault_cursors")
        .select("segmented_seq")
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .executeTakeFirst();
      return row ? Number(row.segmented_seq) : 0;
    },

    queueSegment(o) {
      return db.transaction().execute(async (tx) => {
        const from = o.firstSeq - 1;
        const cursor = { tenant_id: o.tenantId, appliance_id: o.applianceId };
        // Compare-and-swap: a second instance sealing the same range loses here.
        const moved =
          from === 0
            ? await tx
                .insertInto("vault_cursors")
                .values({ ...cursor, segmented_seq: o.lastSeq })
                .onConflict((oc) => oc.columns(["tenant_id", "appliance_id"]).doNothing())
                .executeTakeFirst()
            : await tx
                .updateTable("vault_cursors")
                .set({ segmented_seq: o.lastSeq })
                .where("tenant_id", "=", o.tenantId)
                .where("appliance_id", "=", o.applianceId)
                .where("segmented_seq", "=", from)
                .executeTakeFirst();
        if (!changedOne(moved)) return false;
        await tx.insertInto("vault_objects").values(objectValues(o)).execute();
        return true;
      });
    },

    async dueVaultObjects(now, limit) {
      const rows = await db
        .selectFrom("vault_objects")
        .selectAll()
        .where("status", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .orderBy("next_attempt_at")
        .orderBy("object_key")
        .limit(limit)
        .execute();
      return rows.map(toVaultObject);
    },

    async markVaultArchived(objectKey, r) {
      await db
        .updateTable("vault_objects")
        .set({
          status: "archived",
          archive: r.archive,
          version_id: r.versionId,
          retain_until: r.retainUntil,
          archived_at: r.archivedAt,
          last_error: null,
        })
        .where("object_key", "=", objectKey)
        .execute();
    },

    async markVaultFailed(objectKey, error, nextAttemptAt) {
      await db
        .updateTable("vault_objects")
        .set((eb) => ({
          attempts: eb("attempts", "+", 1),
          last_error: error.slice(0, 500),
          next_attempt_at: nextAttemptAt,
        }))
        .where("object_key", "=", objectKey)
        .where("status", "=", "pending")
        .execute();
    },

    async listVaultObjects(tenantId, applianceId) {
      const rows = await db
        .selectFrom("vault_objects")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .orderBy("kind")
        .orderBy("first_seq")
        .execute();
      return rows.map(toVaultObject);
    },
  };
}

function objectValues(o: NewVaultObject) {
  return {
    object_key: o.objectKey,
    tenant_id: o.tenantId,
    appliance_id: o.applianceId,
    kind: o.kind,
    first_seq: o.firstSeq,
    last_seq: o.lastSeq,
    sha256: o.sha256,
    byte_length: o.byteLength,
    created_at: o.createdAt,
    status: "pending",
    attempts: 0,
    next_attempt_at: o.createdAt,
  };
}

function toCheckpoint(row: Selectable<CheckpointsTable>): StoredCheckpoint {
  return {
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    issuedAt: row.issued_at,
    checkpointJson: row.checkpoint_json,
  };
}

function toVaultObject(row: Selectable<VaultObjectsTable>): VaultObject {
  return {
    objectKey: row.object_key,
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    kind: row.kind as VaultObject["kind"],
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    sha256: row.sha256,
    byteLength: Number(row.byte_length),
    createdAt: row.created_at,
    status: row.status as VaultObject["status"],
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    archive: row.archive,
    versionId: row.version_id,
    retainUntil: row.retain_until,
    archivedAt: row.archived_at,
  };
}
