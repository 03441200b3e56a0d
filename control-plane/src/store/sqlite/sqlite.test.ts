import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STORE_CONTRACTS } from "../contracts.ts";
import { openSqliteStore } from "./index.ts";

for (const contract of STORE_CONTRACTS) {
  contract("SQLite (node:sqlite, WAL)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-store-"));
    return {
      store: openSqliteStore(join(dir, "control-plane.sqlite")),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  });
}
