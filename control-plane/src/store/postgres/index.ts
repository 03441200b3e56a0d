import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { ControlPlaneError } from "../../errors.ts";
import { kyselyStore } from "../kysely-store.ts";
import type { Store } from "../port.ts";
import type { Database } from "../schema.ts";

export interface PostgresOptions {
  readonly connectionString: string;
  /** Tables live in this schema (search_path); tests use one schema per run. */
  readonly schema?: string;
  readonly maxConnections?: number;
}

const INT8 = 20;

/** PostgreSQL for production: the same Kysely queries as SQLite, on a pg connection pool. */
export function openPostgresStore(options: PostgresOptions): Store {
  return kyselyStore(openPostgresKysely(options), "postgres");
}

/** The Kysely instance on a pg pool, configured as above (the store's and tests'). */
export function openPostgresKysely(options: PostgresOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // Sequence numbers are bigint columns; they stay below 2^53 (protocol SequenceNumber).
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
    ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new ControlPlaneError("invalid_config", "invalid schema name");
  return name;
}
