import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storeContract } from "../contract.ts";
import { leaseStoreContract } from "../lease-contract.ts";
import { vaultStoreContract } from "../vault-contract.ts";
import { openSqliteStore } from "./index.ts";

storeContract("SQLite (node:sqlite, WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-store-"));
  return {
    store: openSqliteStore(join(dir, "control-plane.sqlite")),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

vaultStoreContract("SQLite (node:sqlite, WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-vault-"));
  return {
    store: openSqliteStore(join(dir, "control-plane.sqlite")),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

leaseStoreContract("SQLite (node:sqlite, WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-lease-"));
  return {
    store: openSqliteStore(join(dir, "control-plane.sqlite")),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
