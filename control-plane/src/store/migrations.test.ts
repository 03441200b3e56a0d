import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Migrator } from "kysely";
import { afterAll, expect, it } from "vitest";
import { migrationProvider } from "./migrations.ts";
import { openSqliteKysely, openSqliteStore } from "./sqlite/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-migrations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("runs a migration that lands after a later-named one already ran", async () => {
  const file = join(dir, "cp.sqlite");
  // A database migrated before 0017_2 landed, but after 0018.
  const db = openSqliteKysely(file);
  const all = await migrationProvider.getMigrations();
  const { error } = await new Migrator({
    db,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(Object.entries(all).filter(([name]) => name !== "0017_2_packet_jobs")),
    },
  }).migrateToLatest();
  expect(error).toBeUndefined();
  await db.destroy();
  const store = openSqliteStore(file);
  try {
    await store.migrate();
    expect(await store.listQueuedPacketJobs(1)).toEqual([]);
  } finally {
    await store.close();
  }
});
