import type { Kysely, Migration } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Leases for scheduled jobs (issue 13, migration 0004_scale): one row per job name; taking it
 * is one compare-and-swap upsert (free, expired, or already ours), so on SQLite and PostgreSQL
 * alike at most one holder has an unexpired lease. A lease marked completed is never taken
 * again (jobs that must run once per period, such as a month's packets, name the period).
 */
export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
  completed_at: string | null;
}

export type LeaseOutcome = "acquired" | "held" | "completed";

export const leaseMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("leases")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("expires_at", "text", (c) => c.notNull())
      .addColumn("completed_at", "text")
      .execute();
  },
};

/** Times are RFC 3339 UTC from toISOString (fixed width), so text order is time order. */
export async function acquireLease(
  db: Kysely<Database>,
  name: string,
  holder: string,
  now: string,
  expiresAt: string,
): Promise<LeaseOutcome> {
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
}

/** Gives the lease up (expires now), or marks it completed; only the holder can. */
export async function releaseLease(
  db: Kysely<Database>,
  name: string,
  holder: string,
  now: string,
  completed: boolean,
): Promise<boolean> {
  const r = await db
    .updateTable("leases")
    .set({ expires_at: now, ...(completed ? { completed_at: now } : {}) })
    .where("name", "=", name)
    .where("holder", "=", holder)
    .where("completed_at", "is", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
