import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStoreContracts } from "../contract-coverage.ts";
import { openSqliteStore } from "./index.ts";

runStoreContracts("SQLite (node:sqlite, WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-store-"));
  return {
    store: openSqliteStore(join(dir, "control-plane.sqlite")),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
