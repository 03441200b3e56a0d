import { describe, expect, it } from "vitest";
import { runStoreContracts } from "../contract-coverage.ts";
import { openPostgresStore } from "./index.ts";
import { createTestSchema, postgresReachable, TEST_DATABASE_URL } from "./test-database.ts";

const reachable = await postgresReachable();

if (reachable) {
  runStoreContracts("PostgreSQL", async () => {
    const { schema, drop } = await createTestSchema();
    return {
      store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
      cleanup: drop,
    };
  });
  describe("PostgreSQL schemas side by side", () => {
    it("migrates a fresh schema while another schema of the same database holds Kysely's tables", async () => {
      const first = await createTestSchema();
      const second = await createTestSchema();
      const a = openPostgresStore({ connectionString: TEST_DATABASE_URL, schema: first.schema });
      const b = openPostgresStore({ connectionString: TEST_DATABASE_URL, schema: second.schema });
      try {
        await a.migrate();
        // Without the store pinning its own schema, Kysely saw the first schema's lock table,
        // skipped creating one here and failed: "relation kysely_migration_lock does not exist".
        await b.migrate();
        await expect(b.ping()).resolves.toBeUndefined();
      } finally {
        await a.close();
        await b.close();
        await first.drop();
        await second.drop();
      }
    });
  });
} else {
  describe("Store contract: PostgreSQL", () => {
    it.skip(`skipped: no PostgreSQL at ${TEST_DATABASE_URL} (never skipped in CI)`, () => {});
  });
}
