import { describe, it } from "vitest";
import { storeContract } from "../contract.ts";
import { leaseStoreContract } from "../lease-contract.ts";
import { vaultStoreContract } from "../vault-contract.ts";
import { openPostgresStore } from "./index.ts";
import { createTestSchema, postgresReachable, TEST_DATABASE_URL } from "./test-database.ts";

const reachable = await postgresReachable();

if (reachable) {
  storeContract("PostgreSQL", async () => {
    const { schema, drop } = await createTestSchema();
    return {
      store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
      cleanup: drop,
    };
  });
  vaultStoreContract("PostgreSQL", async () => {
    const { schema, drop } = await createTestSchema();
    return {
      store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
      cleanup: drop,
    };
  });
  leaseStoreContract("PostgreSQL", async () => {
    const { schema, drop } = await createTestSchema();
    return {
      store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
      cleanup: drop,
    };
  });
} else {
  describe("Store contract: PostgreSQL", () => {
    it.skip(`skipped: no PostgreSQL at ${TEST_DATABASE_URL} (never skipped in CI)`, () => {});
  });
}
