import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Kysely's SqliteDialect expects a better-sqlite3-shaped object; node:sqlite's DatabaseSync is
 * close but spreads parameters and has no `reader` flag. This adapter bridges the two (no native
 * addon: node:sqlite is built into Node 24).
 */
export function nodeSqliteDatabase(db: DatabaseSync): SqliteDatabase {
  // Kysely prepares every query afresh; the same few SQL texts repeat on every poll, so keep
  // their prepared statements (bounded: the oldest goes first).
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare: (sql: string): SqliteStatement => {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = statement(db.prepare(sql));
        if (cache.size >= 256) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

type Param = null | number | bigint | string | NodeJS.ArrayBufferView;

function statement(stmt: StatementSync): SqliteStatement {
  const args = (parameters: ReadonlyArray<unknown>) => parameters.map(toParam);
  return {
    // A statement returns rows exactly when it has result columns (SELECT, ... RETURNING).
    reader: stmt.columns().length > 0,
    all: (parameters) => stmt.all(...args(parameters)),
    run: (parameters) => {
      const { changes, lastInsertRowid } = stmt.run(...args(parameters));
      return { changes, lastInsertRowid };
    },
    iterate: (parameters) => stmt.iterate(...args(parameters)) as IterableIterator<unknown>,
  };
}

function toParam(value: unknown): Param {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === undefined) return null;
  return value as Param;
}
