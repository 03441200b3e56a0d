import { DatabaseSync } from "node:sqlite";
import { Kysely, SqliteDialect } from "kysely";
import { kyselyStore } from "../kysely-store.ts";
import type { Store } from "../port.ts";
import type { Database } from "../schema.ts";
import { nodeSqliteDatabase } from "./node-sqlite-database.ts";

/**
 * The embedded default: one SQLite file in WAL mode (readers never block the writer), foreign
 * keys on, a busy timeout so a second process (a backup, the CLI) waits instead of failing.
 */
export function openSqliteStore(path: string): Store {
  return kyselyStore(openSqliteKysely(path), "sqlite");
}

/** The Kysely instance on one SQLite file, configured as above (the store's and tests'). */
export function openSqliteKysely(path: string): Kysely<Database> {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: nodeSqliteDatabase(db) }),
  });
}
