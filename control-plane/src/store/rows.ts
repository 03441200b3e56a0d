import type { DeleteResult, InsertResult, UpdateResult } from "kysely";

/**
 * Whether a conditional write hit exactly one row: how every compare-and-swap of the store
 * reports that it won (the row was in the expected state) or lost.
 */
export function changedOne(result: UpdateResult | DeleteResult | InsertResult): boolean {
  if ("numUpdatedRows" in result) return Number(result.numUpdatedRows) === 1;
  if ("numDeletedRows" in result) return Number(result.numDeletedRows) === 1;
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** A looked-up row as its record, or undefined when there was no row. */
export const mapRow = <R, T>(row: R | undefined, toRecord: (row: R) => T): T | undefined =>
  row === undefined ? undefined : toRecord(row);

/** SQLite's primary-key and unique constraint failures (extended result codes). */
const SQLITE_UNIQUE = new Set([1555, 2067]);
/** PostgreSQL's SQLSTATE unique_violation. */
const POSTGRES_UNIQUE = "23505";

/** Whether a database error is a unique-key (or primary-key) conflict, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  return (
    code === POSTGRES_UNIQUE ||
    (code === "ERR_SQLITE_ERROR" && typeof errcode === "number" && SQLITE_UNIQUE.has(errcode))
  );
}

/**
 * Runs an insert guarded by a unique key: false when the key is already taken (a concurrent
 * writer won). Any other error is thrown.
 */
export async function insertUnlessTaken(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (error) {
    if (isUniqueViolation(error)) return false;
    throw error;
  }
}
