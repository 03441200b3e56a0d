import type { Kysely } from "kysely";
import type { ExpiryStore } from "./port.ts";
import type { Database } from "./schema.ts";

/**
 * What stands in for an enrollment token's hash once the token expired: never the SHA-256 hex of
 * any token, so nothing matches it, and not null, so the registration stays one that enrolls with
 * a token (null means approval-only, which an expired token must never turn it into).
 */
export const EXPIRED_TOKEN = "expired";

/**
 * Deletes what has expired: operator sessions past their lifetime, enrollment token hashes past
 * their expiry, leases that lapsed without being completed (a completed lease marks a job done
 * for good and stays), and sign-in failure rows older than the throttle window. Times are
 * RFC 3339 UTC from toISOString (fixed width), so text order is time order.
 */
export function expiryQueries(db: Kysely<Database>): ExpiryStore {
  return {
    async deleteExpired(now, signInFailuresBefore) {
      const sessions = await db
        .deleteFrom("sessions")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      const tokens = await db
        .updateTable("appliances")
        .set({ token_hash: EXPIRED_TOKEN })
        .where("token_expires_at", "<=", now)
        .where("token_hash", "is not", null)
        .where("token_hash", "<>", EXPIRED_TOKEN)
        .executeTakeFirst();
      const leases = await db
        .deleteFrom("leases")
        .where("expires_at", "<=", now)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      const failures = await db
        .deleteFrom("sign_in_failures")
        .where("last_failure_at", "<", signInFailuresBefore)
        .executeTakeFirst();
      return {
        sessions: Number(sessions.numDeletedRows),
        enrollmentTokens: Number(tokens.numUpdatedRows),
        leases: Number(leases.numDeletedRows),
        signInFailures: Number(failures.numDeletedRows),
      };
    },
  };
}
