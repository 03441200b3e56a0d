import { type Kysely, type Selectable, sql } from "kysely";
import type { OperatorRecord, OperatorStore, SessionRecord } from "./port.ts";
import { mapRow } from "./rows.ts";
import type { Database, OperatorsTable, SessionsTable } from "./schema.ts";

/**
 * Who may administer the control plane: admin API tokens (stored as hashes), operators with
 * their password hash, failed sign-ins per (name hash, client address) for throttling, and
 * sessions (id and CSRF token as hashes).
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
          failed_attempts: 0,
          locked_until: null,
          created_at: at,
        })
        .execute();
      return true;
    },

    getOperatorByName: (username) => operatorWhere("username", username),
    getOperator: (operatorId) => operatorWhere("operator_id", operatorId),

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
