import { type Kysely, Migrator, type Selectable, sql, type Transaction } from "kysely";
import { type ChainHead, GENESIS_HEAD } from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import * as leases from "./lease-queries.ts";
import { migrationProvider } from "./migrations.ts";
import { insertOrder, toOrder } from "./order-queries.ts";
import { KyselyPlannerStore } from "./planner/queries.ts";
import type {
  AlertRecord,
  ApplianceRecord,
  ApplianceStatus,
  AuditEntry,
  EnrollmentClaim,
  EvidenceRow,
  NewOrder,
  NewRegistration,
  NewVaultObject,
  OperatorRecord,
  OrderStatus,
  PacketRecord,
  SessionRecord,
  Store,
  StoredCheckpoint,
  StoredOrder,
  TenantRecord,
} from "./port.ts";
import type { AppliancesTable, Database, PacketsTable } from "./schema.ts";
import * as vault from "./vault-queries.ts";

/**
 * The Store on Kysely: the same queries for SQLite and PostgreSQL; the adapters in sqlite/ and
 * postgres/ only build the Kysely instance. Every appliance query carries its tenant id.
 */
export class KyselyStore implements Store {
  readonly dialect: "sqlite" | "postgres";
  readonly #db: Kysely<Database>;
  readonly planner: KyselyPlannerStore;

  constructor(db: Kysely<Database>, dialect: "sqlite" | "postgres") {
    this.#db = db;
    this.dialect = dialect;
    this.planner = new KyselyPlannerStore(db);
  }

  async migrate(): Promise<void> {
    // Kysely looks for its migration tables in every schema unless told which one: with two
    // stores in one PostgreSQL database (tests, or a shared server) it would find the other
    // schema's lock table, skip creating its own, then fail to use it. Pin the store's own.
    const schema =
      this.dialect === "postgres"
        ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(this.#db))
            .rows[0]?.schema
        : undefined;
    const { error, results } = await new Migrator({
      db: this.#db,
      provider: migrationProvider,
      ...(schema ? { migrationTableSchema: schema } : {}),
    }).migrateToLatest();
    const failed = results?.find((r) => r.status === "Error");
    if (error || failed) {
      throw new ControlPlaneError(
        "migration_failed",
        `migration ${failed?.migrationName ?? "?"} failed`,
        { cause: error },
      );
    }
  }

  async ping(): Promise<void> {
    await this.#db.selectFrom("tenants").select("tenant_id").limit(1).execute();
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  async upsertTenant(t: TenantRecord): Promise<void> {
    await this.#db
      .insertInto("tenants")
      .values({
        tenant_id: t.tenantId,
        ca_cert_pem: t.caCertPem,
        ca_key_sealed: t.caKeySealed,
        retention_days: t.retentionDays,
      })
      .onConflict((oc) =>
        oc.column("tenant_id").doUpdateSet({
          ca_cert_pem: t.caCertPem,
          ca_key_sealed: t.caKeySealed,
          retention_days: t.retentionDays,
        }),
      )
      .execute();
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const row = await this.#db
      .selectFrom("tenants")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .executeTakeFirst();
    return row
      ? {
          tenantId: row.tenant_id,
          caCertPem: row.ca_cert_pem,
          caKeySealed: row.ca_key_sealed,
          retentionDays: Number(row.retention_days),
        }
      : undefined;
  }

  async registerAppliance(r: NewRegistration): Promise<boolean> {
    return this.#db.transaction().execute(async (tx) => {
      const existing = await tx
        .selectFrom("appliances")
        .select("appliance_id")
        .where("tenant_id", "=", r.tenantId)
        .where("appliance_id", "=", r.applianceId)
        .executeTakeFirst();
      if (existing) return false;
      await tx
        .insertInto("appliances")
        .values({
          tenant_id: r.tenantId,
          appliance_id: r.applianceId,
          status: "registered",
          macs_json: JSON.stringify(r.macs),
          settings_json: JSON.stringify(r.settings),
          token_hash: r.tokenHash,
          token_expires_at: r.tokenExpiresAt,
          token_used_at: null,
          evidence_public_key: null,
          evidence_key_fingerprint: null,
          csr_pem: null,
          cert_pem: null,
          cert_fingerprint: null,
          hostname: null,
          agent_version: null,
          order_seq: 0,
          evidence_head_seq: 0,
          evidence_head_hash: GENESIS_HEAD.hash,
          created_at: r.createdAt,
          enrolled_at: null,
          revoked_at: null,
          last_seen_at: null,
        })
        .execute();
      await tx
        .insertInto("appliance_macs")
        .values(r.macs.map((mac) => ({ mac, tenant_id: r.tenantId, appliance_id: r.applianceId })))
        .execute();
      return true;
    });
  }

  async getAppliance(tenantId: string, applianceId: string) {
    const row = await this.#db
      .selectFrom("appliances")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .executeTakeFirst();
    return row ? toAppliance(row) : undefined;
  }

  async listAppliances(tenantId: string) {
    const rows = await this.#db
      .selectFrom("appliances")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .orderBy("appliance_id")
      .execute();
    return rows.map(toAppliance);
  }

  async findEnrollableByMac(macs: readonly string[]) {
    if (macs.length === 0) return [];
    const rows = await this.#db
      .selectFrom("appliances")
      .innerJoin("appliance_macs", (j) =>
        j
          .onRef("appliance_macs.tenant_id", "=", "appliances.tenant_id")
          .onRef("appliance_macs.appliance_id", "=", "appliances.appliance_id"),
      )
      .selectAll("appliances")
      .distinct()
      .where("appliance_macs.mac", "in", [...macs])
      .where("appliances.status", "in", ["registered", "pending", "approved"])
      .execute();
    return rows.map(toAppliance);
  }

  findByTokenHash(tokenHash: string) {
    return this.#applianceWhere("token_hash", tokenHash);
  }

  findByCertFingerprint(fingerprint: string) {
    return this.#applianceWhere("cert_fingerprint", fingerprint);
  }

  /** The one appliance whose unique credential column holds `value`. */
  async #applianceWhere(column: "token_hash" | "cert_fingerprint", value: string) {
    const row = await this.#db
      .selectFrom("appliances")
      .selectAll()
      .where(column, "=", value)
      .executeTakeFirst();
    return row ? toAppliance(row) : undefined;
  }

  async setPending(tenantId: string, applianceId: string, claim: EnrollmentClaim) {
    const result = await this.#db
      .updateTable("appliances")
      .set({ status: "pending", ...claimColumns(claim) })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("status", "in", ["registered", "pending"])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async approve(tenantId: string, applianceId: string, fingerprint: string) {
    const result = await this.#db
      .updateTable("appliances")
      .set({ status: "approved" })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("status", "=", "pending")
      .where("evidence_key_fingerprint", "=", fingerprint)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async activate(
    tenantId: string,
    applianceId: string,
    e: EnrollmentClaim & { certPem: string; certFingerprint: string; at: string },
    consumeToken: boolean,
  ) {
    let query = this.#db
      .updateTable("appliances")
      .set({
        status: "active",
        ...claimColumns(e),
        cert_pem: e.certPem,
        cert_fingerprint: e.certFingerprint,
        enrolled_at: e.at,
        ...(consumeToken ? { token_used_at: e.at } : {}),
      })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId);
    query = consumeToken
      ? query.where("status", "in", ["registered", "pending"]).where("token_used_at", "is", null)
      : query
          .where("status", "=", "approved")
          .where("evidence_key_fingerprint", "=", e.evidenceKeyFingerprint);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async revoke(tenantId: string, applianceId: string, at: string) {
    const result = await this.#db
      .updateTable("appliances")
      .set({ status: "revoked", revoked_at: at })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("status", "!=", "revoked")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async touch(tenantId: string, applianceId: string, at: string) {
    await this.#db
      .updateTable("appliances")
      .set({ last_seen_at: at })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .execute();
  }

  async createOrder(tenantId: string, applianceId: string, o: NewOrder): Promise<StoredOrder> {
    return this.#db.transaction().execute((tx) => insertOrder(tx, tenantId, applianceId, o));
  }

  async ordersAfter(tenantId: string, applianceId: string, afterSeq: number, limit: number) {
    const rows = await this.#db
      .selectFrom("orders")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toOrder);
  }

  async markDelivered(tenantId: string, applianceId: string, orderIds: readonly string[]) {
    if (orderIds.length === 0) return;
    await this.#db
      .updateTable("orders")
      .set({ status: "delivered" })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("order_id", "in", [...orderIds])
      .where("status", "=", "pending")
      .execute();
  }

  async getOrder(tenantId: string, orderId: string) {
    const row = await this.#db
      .selectFrom("orders")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("order_id", "=", orderId)
      .executeTakeFirst();
    return row ? toOrder(row) : undefined;
  }

  async setOrderResult(
    tenantId: string,
    applianceId: string,
    orderId: string,
    status: OrderStatus,
    result: unknown,
  ) {
    const updated = await this.#db
      .updateTable("orders")
      .set({ status, result_json: JSON.stringify(result) })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("order_id", "=", orderId)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 1;
  }

  async expireOrders(now: string) {
    const updated = await this.#db
      .updateTable("orders")
      .set({ status: "expired" })
      .where("status", "in", ["pending", "delivered"])
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows);
  }

  async evidenceHashes(tenantId: string, applianceId: string, fromSeq: number, toSeq: number) {
    const rows = await this.#db
      .selectFrom("evidence")
      .select(["seq", "hash"])
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("seq", ">=", fromSeq)
      .where("seq", "<=", toSeq)
      .execute();
    return new Map(rows.map((r) => [Number(r.seq), r.hash]));
  }

  async appendEvidence(
    tenantId: string,
    applianceId: string,
    from: ChainHead,
    rows: readonly EvidenceRow[],
    receivedAt: string,
  ) {
    const last = rows.at(-1);
    if (!last) return true;
    return this.#db.transaction().execute(async (tx) => {
      // Compare-and-swap on the head: a concurrent upload of the same range loses here.
      const moved = await tx
        .updateTable("appliances")
        .set({ evidence_head_seq: last.seq, evidence_head_hash: last.hash })
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("evidence_head_seq", "=", from.seq)
        .where("evidence_head_hash", "=", from.hash)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
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
      return true;
    });
  }

  async listEvidence(tenantId: string, applianceId: string, afterSeq: number, limit: number) {
    const rows = await vault.listEvidenceForArchive(
      this.#db,
      tenantId,
      applianceId,
      afterSeq,
      limit,
    );
    return rows.map(({ seq, hash, prevHash, bundleJson }) => ({ seq, hash, prevHash, bundleJson }));
  }

  async recordAlert(a: AlertRecord) {
    await this.#db
      .insertInto("alerts")
      .values({
        id: crypto.randomUUID(),
        tenant_id: a.tenantId,
        appliance_id: a.applianceId,
        code: a.code,
        detail: a.detail,
        created_at: a.createdAt,
      })
      .execute();
  }

  async listAlerts(tenantId: string) {
    const rows = await this.#db
      .selectFrom("alerts")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      applianceId: r.appliance_id,
      code: r.code,
      detail: r.detail,
      createdAt: r.created_at,
    }));
  }

  async recordIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    bodyJson: string,
    at: string,
  ): Promise<"created" | "duplicate" | "conflict"> {
    return this.#db.transaction().execute(async (tx) => {
      // Scoped to the appliance: incident ids of other tenants are invisible here.
      const existing = await tx
        .selectFrom("incidents")
        .select("body_json")
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("incident_id", "=", incidentId)
        .executeTakeFirst();
      if (existing) return existing.body_json === bodyJson ? "duplicate" : "conflict";
      await tx
        .insertInto("incidents")
        .values({
          tenant_id: tenantId,
          appliance_id: applianceId,
          incident_id: incidentId,
          status: "queued",
          body_json: bodyJson,
          received_at: at,
        })
        .execute();
      return "created";
    });
  }

  async listIncidents(tenantId: string) {
    const rows = await this.#db
      .selectFrom("incidents")
      .select(["incident_id", "appliance_id", "status", "body_json"])
      .where("tenant_id", "=", tenantId)
      .orderBy("received_at")
      .execute();
    return rows.map((r) => ({
      incidentId: r.incident_id,
      applianceId: r.appliance_id,
      status: r.status,
      bodyJson: r.body_json,
    }));
  }

  async addAdminToken(tokenHash: string, label: string, at: string) {
    await this.#db
      .insertInto("admin_tokens")
      .values({ token_hash: tokenHash, label, created_at: at })
      .execute();
  }

  async findAdminToken(tokenHash: string) {
    const row = await this.#db
      .selectFrom("admin_tokens")
      .select(["token_hash", "label"])
      .where("token_hash", "=", tokenHash)
      .executeTakeFirst();
    return row ? { tokenHash: row.token_hash, label: row.label } : undefined;
  }

  async createOperator(o: OperatorRecord, at: string) {
    const existing = await this.getOperatorByName(o.username);
    if (existing) return false;
    await this.#db
      .insertInto("operators")
      .values({
        operator_id: o.operatorId,
        username: o.username,
        password_hash: o.passwordHash,
        failed_attempts: o.failedAttempts,
        locked_until: o.lockedUntil,
        created_at: at,
      })
      .execute();
    return true;
  }

  getOperatorByName(username: string) {
    return this.#operatorWhere("username", username);
  }

  getOperator(operatorId: string) {
    return this.#operatorWhere("operator_id", operatorId);
  }

  async #operatorWhere(column: "username" | "operator_id", value: string) {
    const row = await this.#db
      .selectFrom("operators")
      .selectAll()
      .where(column, "=", value)
      .executeTakeFirst();
    return row ? toOperator(row) : undefined;
  }

  async setOperatorLoginState(
    operatorId: string,
    failedAttempts: number,
    lockedUntil: string | null,
  ) {
    await this.#db
      .updateTable("operators")
      .set({ failed_attempts: failedAttempts, locked_until: lockedUntil })
      .where("operator_id", "=", operatorId)
      .execute();
  }

  async createSession(s: SessionRecord) {
    await this.#db
      .insertInto("sessions")
      .values({
        id_hash: s.idHash,
        operator_id: s.operatorId,
        csrf_hash: s.csrfHash,
        expires_at: s.expiresAt,
      })
      .execute();
  }

  async getSession(idHash: string) {
    const row = await this.#db
      .selectFrom("sessions")
      .selectAll()
      .where("id_hash", "=", idHash)
      .executeTakeFirst();
    return row
      ? {
          idHash: row.id_hash,
          operatorId: row.operator_id,
          csrfHash: row.csrf_hash,
          expiresAt: row.expires_at,
        }
      : undefined;
  }

  async deleteSession(idHash: string) {
    await this.#db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
  }

  async appendAudit(
    entry: Omit<AuditEntry, "seq" | "prevHash" | "hash">,
    seal: (seq: number, prevHash: string) => string,
  ): Promise<AuditEntry> {
    // Two writers may read the same last entry; the primary key on seq makes one of them
    // fail, and it retries on the new head. The chain therefore never forks.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#db.transaction().execute(async (tx) => appendAuditIn(tx, entry, seal));
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
  }

  async listAudit(afterSeq: number, limit: number) {
    const rows = await this.#db
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
  }

  async deleteRegistration(tenantId: string, applianceId: string) {
    return this.#db.transaction().execute(async (tx) => {
      const result = await tx
        .deleteFrom("appliances")
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .where("status", "in", ["registered", "pending", "approved"])
        .where("evidence_head_seq", "=", 0)
        .where("order_seq", "=", 0)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) !== 1) return false;
      await tx
        .deleteFrom("appliance_macs")
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .execute();
      return true;
    });
  }

  async resetEnrollmentToken(
    tenantId: string,
    applianceId: string,
    tokenHash: string,
    expiresAt: string,
  ) {
    const result = await this.#db
      .updateTable("appliances")
      .set({ token_hash: tokenHash, token_expires_at: expiresAt, token_used_at: null })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("status", "in", ["registered", "pending"])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  // Evidence vault (issue 7): the queries live in vault-queries.ts.
  listEvidenceHeads() {
    return vault.listEvidenceHeads(this.#db);
  }
  listEvidenceForArchive(tenantId: string, applianceId: string, afterSeq: number, limit: number) {
    return vault.listEvidenceForArchive(this.#db, tenantId, applianceId, afterSeq, limit);
  }
  evidenceSeqRange(tenantId: string, applianceId: string, fromAt: string, toAt: string) {
    return vault.evidenceSeqRange(this.#db, tenantId, applianceId, fromAt, toAt);
  }
  insertCheckpoint(checkpoint: StoredCheckpoint, object: NewVaultObject) {
    return vault.insertCheckpoint(this.#db, checkpoint, object);
  }
  latestCheckpoint(tenantId: string, applianceId: string) {
    return vault.latestCheckpoint(this.#db, tenantId, applianceId);
  }
  listCheckpoints(tenantId: string, applianceId: string, fromSize: number, toSize: number) {
    return vault.listCheckpoints(this.#db, tenantId, applianceId, fromSize, toSize);
  }
  segmentCursor(tenantId: string, applianceId: string) {
    return vault.segmentCursor(this.#db, tenantId, applianceId);
  }
  queueSegment(object: NewVaultObject) {
    return vault.queueSegment(this.#db, object);
  }
  dueVaultObjects(now: string, limit: number) {
    return vault.dueVaultObjects(this.#db, now, limit);
  }
  markVaultArchived(
    objectKey: string,
    receipt: { archive: string; versionId: string | null; retainUntil: string; archivedAt: string },
  ) {
    return vault.markVaultArchived(this.#db, objectKey, receipt);
  }
  markVaultFailed(objectKey: string, error: string, nextAttemptAt: string) {
    return vault.markVaultFailed(this.#db, objectKey, error, nextAttemptAt);
  }
  listVaultObjects(tenantId: string, applianceId: string) {
    return vault.listVaultObjects(this.#db, tenantId, applianceId);
  }

  async listTenantIds() {
    const rows = await this.#db.selectFrom("tenants").select("tenant_id").execute();
    // Sorted here, not by SQL: collations differ between SQLite and PostgreSQL.
    return rows.map((r) => r.tenant_id).sort();
  }

  acquireLease(name: string, holder: string, now: string, expiresAt: string) {
    return leases.acquireLease(this.#db, name, holder, now, expiresAt);
  }

  releaseLease(name: string, holder: string, now: string, completed: boolean) {
    return leases.releaseLease(this.#db, name, holder, now, completed);
  }

  async putPacket(p: PacketRecord): Promise<void> {
    const row = {
      tenant_id: p.tenantId,
      month: p.month,
      generated_at: p.generatedAt,
      files_json: JSON.stringify(p.files),
      counts_json: JSON.stringify(p.counts),
    };
    await this.#db
      .insertInto("packets")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["tenant_id", "month"]).doUpdateSet({
          generated_at: row.generated_at,
          files_json: row.files_json,
          counts_json: row.counts_json,
        }),
      )
      .execute();
  }

  async getPacket(tenantId: string, month: string): Promise<PacketRecord | undefined> {
    const row = await this.#db
      .selectFrom("packets")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("month", "=", month)
      .executeTakeFirst();
    return row ? packetRecord(row) : undefined;
  }

  async listPackets(tenantId: string): Promise<PacketRecord[]> {
    const rows = await this.#db
      .selectFrom("packets")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .orderBy("month", "desc")
      .execute();
    return rows.map(packetRecord);
  }
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

async function appendAuditIn(
  tx: Transaction<Database>,
  entry: Omit<AuditEntry, "seq" | "prevHash" | "hash">,
  seal: (seq: number, prevHash: string) => string,
): Promise<AuditEntry> {
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
}

function claimColumns(c: EnrollmentClaim) {
  return {
    evidence_public_key: c.evidencePublicKey,
    evidence_key_fingerprint: c.evidenceKeyFingerprint,
    csr_pem: c.csrPem,
    hostname: c.hostname,
    agent_version: c.agentVersion,
  };
}

function toAppliance(row: Selectable<AppliancesTable>): ApplianceRecord {
  return {
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    status: row.status as ApplianceStatus,
    macs: JSON.parse(row.macs_json),
    settings: JSON.parse(row.settings_json),
    tokenHash: row.token_hash,
    tokenExpiresAt: row.token_expires_at,
    tokenUsedAt: row.token_used_at,
    evidencePublicKey: row.evidence_public_key,
    evidenceKeyFingerprint: row.evidence_key_fingerprint,
    csrPem: row.csr_pem,
    certPem: row.cert_pem,
    certFingerprint: row.cert_fingerprint,
    hostname: row.hostname,
    agentVersion: row.agent_version,
    orderSeq: Number(row.order_seq),
    evidenceHead: { seq: Number(row.evidence_head_seq), hash: row.evidence_head_hash },
    createdAt: row.created_at,
    enrolledAt: row.enrolled_at,
    revokedAt: row.revoked_at,
    lastSeenAt: row.last_seen_at,
  };
}

function toOperator(row: {
  operator_id: string;
  username: string;
  password_hash: string;
  failed_attempts: number;
  locked_until: string | null;
}): OperatorRecord {
  return {
    operatorId: row.operator_id,
    username: row.username,
    passwordHash: row.password_hash,
    failedAttempts: Number(row.failed_attempts),
    lockedUntil: row.locked_until,
  };
}
