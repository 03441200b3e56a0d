import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, sql, type Transaction } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendToChain, CHAIN_BACKOFF, CHAIN_RETRIES } from "./chain.ts";
import { kyselyStore } from "./kysely-store.ts";
import { openPostgresKysely } from "./postgres/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "./postgres/test-database.ts";
import { isUniqueViolation } from "./rows.ts";
import type { Database } from "./schema.ts";
import { openSqliteKysely } from "./sqlite/index.ts";

type Open = () => Promise<{ db: Kysely<Database>; cleanup: () => Promise<void> }>;

const sqlite: Open = async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-chain-"));
  return {
    db: openSqliteKysely(join(dir, "control-plane.sqlite")),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const postgres: Open = async () => {
  const { schema, drop } = await createTestSchema();
  return {
    db: openPostgresKysely({ connectionString: TEST_DATABASE_URL, schema }),
    cleanup: drop,
  };
};

const dialects: [string, "sqlite" | "postgres", Open][] = [["SQLite", "sqlite", sqlite]];
if (await postgresReachable()) dialects.push(["PostgreSQL", "postgres", postgres]);
else it.skip(`appendToChain on PostgreSQL: skipped, no PostgreSQL at ${TEST_DATABASE_URL}`);

for (const [name, dialect, open] of dialects) {
  describe(`appendToChain: ${name}`, () => {
    let db: Kysely<Database>;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await kyselyStore(db, dialect).migrate();
    });
    afterAll(async () => {
      await db.destroy();
      await cleanup();
    });

    /** Writes an alert (to see rollbacks), then the audit entry `seq`: the chain's next link. */
    const link = async (tx: Transaction<Database>, seq: number) => {
      await tx
        .insertInto("alerts")
        .values({
          id: crypto.randomUUID(),
          tenant_id: "t",
          appliance_id: "a",
          code: `link-${seq}`,
          detail: "",
          created_at: "",
        })
        .execute();
      await tx
        .insertInto("audit_log")
        .values({
          seq,
          at: "",
          actor: "",
          action: "",
          target: "",
          detail_json: "{}",
          prev_hash: "",
          hash: String(seq),
        })
        .execute();
      return seq;
    };
    const alerts = async () => (await db.selectFrom("alerts").select("code").execute()).length;

    it("retries a lost race (a unique-key conflict) after a growing backoff; the loser leaves nothing", async () => {
      await db.transaction().execute((tx) => link(tx, 1));
      let tries = 0;
      const waits: number[] = [];
      const seq = await appendToChain(db, (tx) => link(tx, ++tries < 3 ? 1 : 2), {
        random: () => 0.5,
        sleep: async (ms) => waits.push(ms),
      });
      expect(seq).toBe(2);
      expect(tries).toBe(3);
      expect(waits).toEqual([CHAIN_BACKOFF.baseMs, 2 * CHAIN_BACKOFF.baseMs]);
      expect(await alerts()).toBe(2); // the two losing tries were rolled back whole
    });

    it("throws any other error at once, without retrying", async () => {
      let tries = 0;
      const waits: number[] = [];
      const failing = appendToChain(
        db,
        async (tx) => {
          tries++;
          await sql`insert into no_such_table values (1)`.execute(tx);
        },
        { sleep: async (ms) => waits.push(ms) },
      );
      await expect(failing).rejects.toThrow(/no_such_table/);
      expect(tries).toBe(1);
      expect(waits).toEqual([]);
    });

    it("gives up after its retries and throws the conflict", async () => {
      let tries = 0;
      const waits: number[] = [];
      const conflicting = (tx: Transaction<Database>) => {
        tries++;
        return link(tx, 1);
      };
      const error = await appendToChain(db, conflicting, {
        random: () => 0.5,
        sleep: async (ms) => waits.push(ms),
      }).catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      expect(tries).toBe(CHAIN_RETRIES + 1);
      expect(waits).toHaveLength(CHAIN_RETRIES);
      expect(waits.at(-1)).toBe(CHAIN_BACKOFF.capMs);
      expect(await alerts()).toBe(2);
    });
  });
}
