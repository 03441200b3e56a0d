import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from "kysely";
import { ControlPlaneError } from "../errors.ts";

/**
 * A compact way to write a migration's tables. Each entry of `columns` is one or more columns
 * of one type and the same constraints, in table order, in SQL's own words:
 *
 *   "tenant_id text not null references tenants.tenant_id"
 *   "order_seq, evidence_head_seq bigint not null default 0"
 *   "token_hash text unique"
 *
 * Types are the three that mean the same on SQLite and PostgreSQL (text, integer, bigint).
 * Table constraints (composite keys) are added by `constraints` on Kysely's builder. The SQL is
 * the same as writing each column with `addColumn`.
 */
export async function createTable(
  db: Kysely<unknown>,
  name: string,
  columns: readonly string[],
  constraints: (table: CreateTableBuilder<string, string>) => CreateTableBuilder<string, string> = (
    t,
  ) => t,
): Promise<void> {
  let table: CreateTableBuilder<string, string> = db.schema.createTable(name);
  for (const group of columns) {
    const { names, type, modifiers } = parseColumns(group);
    for (const column of names) {
      table = table.addColumn(column, type, (c) => modifiers.reduce((b, m) => m(b), c));
    }
  }
  await constraints(table).execute();
}

/**
 * A per-appliance hash chain (evidence, planner decisions): rows keyed by tenant, appliance
 * and sequence number, then `columns`. The primary key is `<name>_pk`.
 */
export function createChainTable(
  db: Kysely<unknown>,
  name: string,
  columns: readonly string[],
): Promise<void> {
  return createTable(
    db,
    name,
    ["tenant_id, appliance_id text not null", "seq bigint not null", ...columns],
    (t) => t.addPrimaryKeyConstraint(`${name}_pk`, ["tenant_id", "appliance_id", "seq"]),
  );
}

/** An index on `columns` of `table`. */
export async function createIndex(
  db: Kysely<unknown>,
  name: string,
  table: string,
  columns: readonly string[],
): Promise<void> {
  await db.schema
    .createIndex(name)
    .on(table)
    .columns([...columns])
    .execute();
}

type Modifier = (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;

const GROUP = /^([a-z0-9_]+(?:, [a-z0-9_]+)*) (text|integer|bigint)((?: [a-z0-9_. ]+)?)$/;
const MODIFIER =
  /^(?:(not null)|(primary key)|(unique)|default (\d+)|references ([a-z0-9_]+\.[a-z0-9_]+))/;

/** Parses one entry of `columns`; throws naming the entry when it is not in the form above. */
export function parseColumns(group: string): {
  names: string[];
  type: "text" | "integer" | "bigint";
  modifiers: Modifier[];
} {
  const match = GROUP.exec(group);
  if (!match)
    throw new ControlPlaneError(
      "internal",
      `column group "${group}": expected "name[, name] type [constraints]"`,
    );
  const [, names = "", type = "text", rest = ""] = match;
  const modifiers: Modifier[] = [];
  for (let text = rest.trim(); text !== ""; ) {
    const m = MODIFIER.exec(text);
    if (!m)
      throw new ControlPlaneError(
        "internal",
        `column group "${group}": unknown constraint at "${text}"`,
      );
    const [word, notNull, primaryKey, unique, dflt, ref] = m;
    if (notNull) modifiers.push((c) => c.notNull());
    if (primaryKey) modifiers.push((c) => c.primaryKey());
    if (unique) modifiers.push((c) => c.unique());
    if (dflt !== undefined) modifiers.push((c) => c.defaultTo(Number(dflt)));
    if (ref !== undefined) modifiers.push((c) => c.references(ref));
    text = text.slice(word.length).trim();
  }
  return { names: names.split(", "), type: type as "text" | "integer" | "bigint", modifiers };
}
