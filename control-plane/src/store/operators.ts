import { type Kysely, type Selectable, sql } from "kysely";
import { ALL_TENANTS, parseScope, Role } from "../access/roles.ts";
import type { ApiTokenRecord, OperatorRecord, OperatorStore, SessionRecord } from "./port.ts";
import { changedOne, mapRow } from "./rows.ts";
import type { AdminTokensTable, Database, OperatorsTable, SessionsTable } from "./schema.ts";

/** A token's last use is written at most this often (a busy token would write on every call). */
const TOUCH_EVERY_MS = 60_000;

/**
 * Who may administer the control plane: named API tokens (stored as hashes) with their role and
 * scope, operators with their password hash, role and scope, failed sign-ins per (name hash,
 * client address) for throttling, and sessions (id and CSRF token as hashes).
 */
export function operatorQueries(db: Kysely<Database>): OperatorStore {
  const operatorWhere = async (column: "username" | "operator_id", value: string) => {
    const row = await db
      .selectFrom("operators")
      .selectAll()
      .where(column, "=", value)
      .executeTakeFirst();
    return mapRow(row, toOperator);
  };

  return {
    async addAdminToken(t, at) {
      await db
        .insertInto("admin_tokens")
        .values({
          token_hash: t.tokenHash,
          label: t.label,
          created_at: at,
          role: t.role ?? "admin",
          scope_json: JSON.stringify(t.scope ?? ALL_TENANTS),
          created_by: t.createdBy ?? null,
          expires_at: t.expiresAt ?? null,
        })
        .execute();
    },

    async findAdminToken(tokenHash) {
      const row = await db
        .selectFrom("admin_tokens")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst();
      return mapRow(row, toToken);
    },

    async listAdminTokens() {
      const rows = await db
        .selectFrom("admin_tokens")
        .selectAll()
        .orderBy("created_at")
        .orderBy("label")
        .execute();
      return rows.map(toToken);
    },

    async touchAdminToken(tokenHash, at) {
      const before = new Date(Date.parse(at) - TOUCH_EVERY_MS).toISOString();
      await db
        .updateTable("admin_tokens")
        .set({ last_used_at: at })
        .where("token_hash", "=", tokenHash)
        .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", before)]))
        .execute();
    },

    async revokeAdminToken(tokenHash, at) {
      const result = await db
        .updateTable("admin_tokens")
        .set({ revoked_at: at })
        .where("token_hash", "=", tokenHash)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return changedOne(result);
    },

    async createOperator(o, at) {
      if (await operatorWhere("username", o.username)) return false;
      await db
        .insertInto("operators")
        .values({
          operator_id: o.operatorId,
          username: o.username,
          password_hash: o.passwordHash,
          failed_attempts: 0,
          locked_until: null,
          created_at: at,
          role: o.role ?? "admin",
          scope_json: JSON.stringify(o.scope ?? ALL_TENANTS),
          expires_at: o.expiresAt ?? null,
          disabled_at: null,
        })
        .execute();
      return true;
    },

    getOperatorByName: (username) => operatorWhere("username", username),
    getOperator: (operatorId) => operatorWhere("operator_id", operatorId),

    async listOperators() {
      const rows = await db.selectFrom("operators").selectAll().orderBy("username").execute();
      return rows.map(toOperator);
    },

    async updateOperator(operatorId, change) {
      const set = {
        ...(change.role !== undefined ? { role: change.role } : {}),
        ...(change.scope !== undefined ? { scope_json: JSON.stringify(change.scope) } : {}),
        ...(change.expiresAt !== undefined ? { expires_at: change.expiresAt } : {}),
        ...(change.disabledAt !== undefined ? { disabled_at: change.disabledAt } : {}),
        ...(change.passwordHash !== undefined ? { password_hash: change.passwordHash } : {}),
        ...(change.totpSealed !== undefined
          ? { totp_sealed: change.totpSealed, totp_last_step: null }
          : {}),
        ...(change.totpPendingSealed !== undefined
          ? { totp_pending_sealed: change.totpPendingSealed }
          : {}),
      };
      if (Object.keys(set).length === 0)
        return (await operatorWhere("operator_id", operatorId)) !== undefined;
      const result = await db
        .updateTable("operators")
        .set(set)
        .where("operator_id", "=", operatorId)
        .executeTakeFirst();
      return changedOne(result);
    },

    async claimTotpStep(operatorId, step) {
      const result = await db
        .updateTable("operators")
        .set({ totp_last_step: step })
        .where("operator_id", "=", operatorId)
        .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", step)]))
        .executeTakeFirst();
      return changedOne(result);
    },

    async getSignInFailures(subject, address) {
      const row = await db
        .selectFrom("sign_in_failures")
        .select(["failures", "last_failure_at"])
        .where("subject", "=", subject)
        .where("address", "=", address)
        .executeTakeFirst();
      return row && { failures: Number(row.failures), lastFailureAt: row.last_failure_at };
    },

    async recordSignInFailure(subject, address, at, windowStart) {
      // One statement, so concurrent failures each count (no read-modify-write).
      const row = await db
        .insertInto("sign_in_failures")
        .values({ subject, address, failures: 1, last_failure_at: at })
        .onConflict((oc) =>
          oc.columns(["subject", "address"]).doUpdateSet({
            failures: sql<number>`case when sign_in_failures.last_failure_at < ${windowStart} then 1 else sign_in_failures.failures + 1 end`,
            last_failure_at: at,
          }),
        )
        .returning("failures")
        .executeTakeFirstOrThrow();
      return Number(row.failures);
    },

    async clearSignInFailures(subject, address) {
      await db
        .deleteFrom("sign_in_failures")
        .where("subject", "=", subject)
        .where("address", "=", address)
        .execute();
    },

    async clearSignInFailuresOf(subject) {
      const result = await db
        .deleteFrom("sign_in_failures")
        .where("subject", "=", subject)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async pruneSignInFailures(before) {
      const result = await db
        .deleteFrom("sign_in_failures")
        .where("last_failure_at", "<", before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async createSession(s) {
      await db
        .insertInto("sessions")
        .values({
          id_hash: s.idHash,
          operator_id: s.operatorId,
          csrf_hash: s.csrfHash,
          expires_at: s.expiresAt,
          created_at: s.createdAt ?? null,
          last_seen_at: s.lastSeenAt ?? null,
        })
        .execute();
    },

    async getSession(idHash) {
      const row = await db
        .selectFrom("sessions")
        .selectAll()
        .where("id_hash", "=", idHash)
        .executeTakeFirst();
      return mapRow(row, toSession);
    },

    async touchSession(idHash, at) {
      await db
        .updateTable("sessions")
        .set({ last_seen_at: at })
        .where("id_hash", "=", idHash)
        .execute();
    },

    async listSessions(operatorId) {
      const rows = await db
        .selectFrom("sessions")
        .selectAll()
        .where("operator_id", "=", operatorId)
        .orderBy("created_at")
        .execute();
      return rows.map(toSession);
    },

    async deleteSession(idHash) {
      await db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
    },

    async deleteSessionsOf(operatorId, prefix) {
      let query = db.deleteFrom("sessions").where("operator_id", "=", operatorId);
      if (prefix !== undefined) query = query.where("id_hash", "like", `${prefix}%`);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

/** A stored role this code does not know acts as a viewer of nothing. */
const grantOf = (row: { role: string; scope_json: string }) => {
  const role = Role.safeParse(row.role);
  return role.success
    ? { role: role.data, scope: parseScope(row.scope_json) }
    : { role: "viewer" as const, scope: { tenants: [] } };
};

function toOperator(row: Selectable<OperatorsTable>): OperatorRecord {
  return {
    operatorId: row.operator_id,
    username: row.username,
    passwordHash: row.password_hash,
    ...grantOf(row),
    expiresAt: row.expires_at,
    disabledAt: row.disabled_at,
    totpSealed: row.totp_sealed,
    totpPendingSealed: row.totp_pending_sealed,
  };
}

function toToken(row: Selectable<AdminTokensTable>): ApiTokenRecord {
  return {
    tokenHash: row.token_hash,
    label: row.label,
    ...grantOf(row),
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    idHash: row.id_hash,
    operatorId: row.operator_id,
    csrfHash: row.csrf_hash,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  };
}
