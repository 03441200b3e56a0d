import type { Kysely, Selectable } from "kysely";
import { GENESIS_HEAD } from "#protocol";
import type { ApplianceRecord, ApplianceStatus, ApplianceStore, EnrollmentClaim } from "./port.ts";
import { changedOne } from "./rows.ts";
import type { AppliancesTable, Database } from "./schema.ts";

/**
 * Appliances and their enrollment: a registration (with its expected MACs and an optional
 * one-time token) becomes pending, approved and active, or is revoked; one row through its life.
 * Every state change is a conditional update on the current status, so concurrent claims and
 * approvals cannot both win.
 */
export function applianceQueries(db: Kysely<Database>): ApplianceStore {
  const one = (tenantId: string, applianceId: string) =>
    db
      .updateTable("appliances")
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId);
  /** The one appliance whose unique credential column holds `value`. */
  const applianceWhere = async (column: "token_hash" | "cert_fingerprint", value: string) => {
    const row = await db
      .selectFrom("appliances")
      .selectAll()
      .where(column, "=", value)
      .executeTakeFirst();
    return row ? toAppliance(row) : undefined;
  };

  return {
    registerAppliance(r) {
      return db.transaction().execute(async (tx) => {
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
          .values(
            r.macs.map((mac) => ({ mac, tenant_id: r.tenantId, appliance_id: r.applianceId })),
          )
          .execute();
        return true;
      });
    },

    async getAppliance(tenantId, applianceId) {
      const row = await db
        .selectFrom("appliances")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .executeTakeFirst();
      return row ? toAppliance(row) : undefined;
    },

    async listAppliances(tenantId) {
      const rows = await db
        .selectFrom("appliances")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .orderBy("appliance_id")
        .execute();
      return rows.map(toAppliance);
    },

    async findEnrollableByMac(macs) {
      if (macs.length === 0) return [];
      const rows = await db
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
    },

    findByTokenHash: (tokenHash) => applianceWhere("token_hash", tokenHash),
    findByCertFingerprint: (fingerprint) => applianceWhere("cert_fingerprint", fingerprint),

    async setPending(tenantId, applianceId, claim) {
      const result = await one(tenantId, applianceId)
        .set({ status: "pending", ...claimColumns(claim) })
        .where("status", "in", ["registered", "pending"])
        .executeTakeFirst();
      return changedOne(result);
    },

    async approve(tenantId, applianceId, fingerprint) {
      const result = await one(tenantId, applianceId)
        .set({ status: "approved" })
        .where("status", "=", "pending")
        .where("evidence_key_fingerprint", "=", fingerprint)
        .executeTakeFirst();
      return changedOne(result);
    },

    async activate(tenantId, applianceId, e, consumeToken) {
      const query = one(tenantId, applianceId).set({
        status: "active",
        ...claimColumns(e),
        cert_pem: e.certPem,
        cert_fingerprint: e.certFingerprint,
        enrolled_at: e.at,
        ...(consumeToken ? { token_used_at: e.at } : {}),
      });
      const guarded = consumeToken
        ? query.where("status", "in", ["registered", "pending"]).where("token_used_at", "is", null)
        : query
            .where("status", "=", "approved")
            .where("evidence_key_fingerprint", "=", e.evidenceKeyFingerprint);
      return changedOne(await guarded.executeTakeFirst());
    },

    async revoke(tenantId, applianceId, at) {
      const result = await one(tenantId, applianceId)
        .set({ status: "revoked", revoked_at: at })
        .where("status", "!=", "revoked")
        .executeTakeFirst();
      return changedOne(result);
    },

    async touch(tenantId, applianceId, at) {
      await one(tenantId, applianceId).set({ last_seen_at: at }).execute();
    },

    deleteRegistration(tenantId, applianceId) {
      return db.transaction().execute(async (tx) => {
        const result = await tx
          .deleteFrom("appliances")
          .where("tenant_id", "=", tenantId)
          .where("appliance_id", "=", applianceId)
          .where("status", "in", ["registered", "pending", "approved"])
          .where("evidence_head_seq", "=", 0)
          .where("order_seq", "=", 0)
          .executeTakeFirst();
        if (!changedOne(result)) return false;
        await tx
          .deleteFrom("appliance_macs")
          .where("tenant_id", "=", tenantId)
          .where("appliance_id", "=", applianceId)
          .execute();
        return true;
      });
    },

    async resetEnrollmentToken(tenantId, applianceId, tokenHash, expiresAt) {
      const result = await one(tenantId, applianceId)
        .set({ token_hash: tokenHash, token_expires_at: expiresAt, token_used_at: null })
        .where("status", "in", ["registered", "pending"])
        .executeTakeFirst();
      return changedOne(result);
    },
  };
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
