import { DatabaseSync } from "node:sqlite";
import { Kysely, SqliteDialect } from "kysely";
import { describe, expect, it } from "vitest";
import { createIndex, createTable, parseColumns } from "./ddl.ts";
import { nodeSqliteDatabase } from "./sqlite/node-sqlite-database.ts";

describe("migration tables in a compact form", () => {
  it("writes the columns in order, each group with its type and constraints", async () => {
    const raw = new DatabaseSync(":memory:");
    const db = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: nodeSqliteDatabase(raw) }),
    });
    try {
      await createTable(db, "parents", ["id text primary key"]);
      await createTable(
        db,
        "children",
        [
          "parent_id text not null references parents.id",
          "a, b bigint not null default 0",
          "token text unique",
          "note text",
        ],
        (t) => t.addPrimaryKeyConstraint("children_pk", ["parent_id", "a"]),
      );
      await createIndex(db, "children_b", "children", ["b", "a"]);
      const sql = raw
        .prepare("select sql from sqlite_master where name in ('children', 'children_b')")
        .all()
        .map((r) => r.sql);
      expect(sql).toEqual([
        'CREATE TABLE "children" ("parent_id" text not null references "parents" ("id"), ' +
          '"a" bigint default 0 not null, "b" bigint default 0 not null, "token" text unique, ' +
          '"note" text, constraint "children_pk" primary key ("parent_id", "a"))',
        'CREATE INDEX "children_b" on "children" ("b", "a")',
      ]);
    } finally {
      await db.destroy();
    }
  });

  it.each([
    ["id varchar(10)", /expected "name\[, name\] type/],
    ["id,b text", /expected/],
    ["id text nullable", /unknown constraint at "nullable"/],
    ["id text default x", /unknown constraint at "default x"/],
  ])("refuses %j and names it", (group, message) => {
    expect(() => parseColumns(group)).toThrow(message);
  });
});
