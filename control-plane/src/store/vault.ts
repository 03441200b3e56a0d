import type { Kysely, Selectable } from "kysely";
import type { ArchiveRow, NewVaultObject, StoredCheckpoint, VaultObject } from "./port.ts";
import type { CheckpointsTable, Database, VaultObjectsTable } from "./schema.ts";

/**
 * The evidence vault's queries (issue 7), shared by both dialects through KyselyStore. Every
 * query is scoped by tenant and appliance, except the two scheduled-job scans that walk all
 * appliances (listEvidenceHeads, dueVaultObjects).
 */
export async function listEvidenceHeads(db: Kysely<Database>) {
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
}

/** Evidence rows in seq order after `afterSeq`, with their receipt time (also listEvidence). */
export async function listEvidenceForArchive(
  db: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  afterSeq: number,
  limit: number,
): Promise<(ArchiveRow & { prevHash: string })[]> {
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
}

export async function evidenceSeqRange(
  db: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  fromAt: string,
  toAt: string,
) {
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
}

export async function insertCheckpoint(
  db: Kysely<Database>,
  cp: StoredCheckpoint,
  object: NewVaultObject,
): Promise<boolean> {
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
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    await tx.insertInto("vault_objects").values(objectValues(object)).execute();
    return true;
  });
}

const checkpointsOf = (db: Kysely<Database>, tenantId: string, applianceId: string) =>
  db
    .selectFrom("checkpoints")
    .selectAll()
    .where("tenant_id", "=", tenantId)
    .where("appliance_id", "=", applianceId);

export async function latestCheckpoint(
  db: Kysely<Database>,
  tenantId: string,
  applianceId: string,
) {
  const row = await checkpointsOf(db, tenantId, applianceId)
    .orderBy("tree_size", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? toCheckpoint(row) : undefined;
}

export async function listCheckpoints(
  db: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  fromSize: number,
  toSize: number,
) {
  const rows = await checkpointsOf(db, tenantId, applianceId)
    .where("tree_size", ">=", fromSize)
    .where("tree_size", "<=", toSize)
    .orderBy("tree_size")
    .execute();
  return rows.map(toCheckpoint);
}

export async function segmentCursor(db: Kysely<Database>, tenantId: string, applianceId: string) {
  const row = await db
    .selectFrom("vault_cursors")
    .select("segmented_seq")
    .where("tenant_id", "=", tenantId)
    .where("appliance_id", "=", applianceId)
    .executeTakeFirst();
  return row ? Number(row.segmented_seq) : 0;
}

export async function queueSegment(db: Kysely<Database>, o: NewVaultObject): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const from = o.firstSeq - 1;
    if (from === 0) {
      const created = await tx
        .insertInto("vault_cursors")
        .values({ tenant_id: o.tenantId, appliance_id: o.applianceId, segmented_seq: o.lastSeq })
        .onConflict((oc) => oc.columns(["tenant_id", "appliance_id"]).doNothing())
        .executeTakeFirst();
      if (Number(created.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    } else {
      // Compare-and-swap: a second instance sealing the same range loses here.
      const moved = await tx
        .updateTable("vault_cursors")
        .set({ segmented_seq: o.lastSeq })
        .where("tenant_id", "=", o.tenantId)
        .where("appliance_id", "=", o.applianceId)
        .where("segmented_seq", "=", from)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
    }
    await tx.insertInto("vault_objects").values(objectValues(o)).execute();
    return true;
  });
}

export async function dueVaultObjects(db: Kysely<Database>, now: string, limit: number) {
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
}

export async function markVaultArchived(
  db: Kysely<Database>,
  objectKey: string,
  r: { archive: string; versionId: string | null; retainUntil: string; archivedAt: string },
) {
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
}

export async function markVaultFailed(
  db: Kysely<Database>,
  objectKey: string,
  error: string,
  nextAttemptAt: string,
) {
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
}

export async function listVaultObjects(
  db: Kysely<Database>,
  tenantId: string,
  applianceId: string,
) {
  const rows = await db
    .selectFrom("vault_objects")
    .selectAll()
    .where("tenant_id", "=", tenantId)
    .where("appliance_id", "=", applianceId)
    .orderBy("kind")
    .orderBy("first_seq")
    .execute();
  return rows.map(toVaultObject);
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
