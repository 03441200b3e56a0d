import type { Kysely } from "kysely";
import type { LeaseStore } from "./port.ts";
import { changedOne } from "./rows.ts";
import type { Database } from "./schema.ts";

/**
 * Leases for scheduled jobs: one row per job name; taking it is one compare-and-swap upsert
 * (free, expired, or already ours), so on SQLite and PostgreSQL alike at most one holder has an
 * unexpired lease. A lease marked completed is never taken again (jobs that must run once per
 * period, such as a month's packets, name the period). Times are RFC 3339 UTC from toISOString
 * (fixed width), so text order is time order.
 */
export function leaseQueries(db: Kysely<Database>): LeaseStore {
  return {
    async acquireLease(name, holder, now, expiresAt) {
      const taken = await db
        .insertInto("leases")
        .values({ name, holder, expires_at: expiresAt, completed_at: null })
        .onConflict((oc) =>
          oc
            .column("name")
            .doUpdateSet({ holder, expires_at: expiresAt })
            .where((eb) =>
              eb.and([
                eb("leases.completed_at", "is", null),
                eb.or([eb("leases.expires_at", "<=", now), eb("leases.holder", "=", holder)]),
              ]),
            ),
        )
        .returning("holder")
        .executeTakeFirst();
      if (taken?.holder === holder) return "acquired";
      const row = await db
        .selectFrom("leases")
        .select("completed_at")
        .where("name", "=", name)
        .executeTakeFirst();
      return row?.completed_at ? "completed" : "held";
    },

    /** Gives the lease up (expires now), or marks it completed; only the holder can. */
    async releaseLease(name, holder, now, completed) {
      const r = await db
        .updateTable("leases")
        .set({ expires_at: now, ...(completed ? { completed_at: now } : {}) })
        .where("name", "=", name)
        .where("holder", "=", holder)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      return changedOne(r);
    },
  };
}
