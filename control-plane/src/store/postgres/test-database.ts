import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A throw-away schema on the test PostgreSQL server (127.0.0.1:5432, user postgres, trust
 * auth, database `test`; override with TEST_DATABASE_URL). In CI an unreachable server fails
 * the run; elsewhere the PostgreSQL tests skip with a message.
 */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch (error) {
    if (process.env.CI) {
      throw new Error(`PostgreSQL is required in CI at ${TEST_DATABASE_URL}`, { cause: error });
    }
    console.warn(
      `[skip] PostgreSQL not reachable at ${TEST_DATABASE_URL}: PostgreSQL tests skipped`,
    );
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createTestSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `cp_test_${randomBytes(6).toString("hex")}`;
  await admin(`create schema ${schema}`);
  return { schema, drop: () => admin(`drop schema if exists ${schema} cascade`) };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
