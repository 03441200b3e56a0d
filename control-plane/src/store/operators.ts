import type { Kysely, Selectable } from "kysely";
import type { OperatorRecord, OperatorStore, SessionRecord } from "./port.ts";
import { mapRow } from "./rows.ts";
import type { Database, OperatorsTable, SessionsTable } from "./schema.ts";

/**
 * Who may administer the control plane: admin API tokens (stored as hashes), operators with
 * their password hash and lockout state, and their sessions (id and CSRF token as hashes).
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
    async addAdminToken(tokenHash, label, at) {
      await db
        .insertInto("admin_tokens")
        .values({ token_hash: tokenHash, label, created_at: at })
        .execute();
    },

    async findAdminToken(tokenHash) {
      const row = await db
        .selectFrom("admin_tokens")
        .select(["token_hash", "label"])
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst();
      return row ? { tokenHash: row.token_hash, label: row.label } : undefined;
    },

    async createOperator(o, at) {
      if (await operatorWhere("username", o.username)) return false;
      await db
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
    },

    getOperatorByName: (username) => operatorWhere("username", username),
    getOperator: (operatorId) => operatorWhere("operator_id", operatorId),

    async setOperatorLoginState(operatorId, failedAttempts, lockedUntil) {
      await db
        .updateTable("operators")
        .set({ failed_attempts: failedAttempts, locked_until: lockedUntil })
        .where("operator_id", "=", operatorId)
        .execute();
    },

    async createSession(s) {
      await db
        .insertInto("sessions")
        .values({
          id_hash: s.idHash,
          operator_id: s.operatorId,
          csrf_hash: s.csrfHash,
          expires_at: s.expiresAt,
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

    async deleteSession(idHash) {
      await db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
    },
  };
}

function toOperator(row: Selectable<OperatorsTable>): OperatorRecord {
  return {
    operatorId: row.operator_id,
    username: row.username,
    passwordHash: row.password_hash,
    failedAttempts: Number(row.failed_attempts),
    lockedUntil: row.locked_until,
  };
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    idHash: row.id_hash,
    operatorId: row.operator_id,
    csrfHash: row.csrf_hash,
    expiresAt: row.expires_at,
  };
}
