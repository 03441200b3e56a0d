import { expect, it } from "vitest";
import { CALLED, type OpenStore, storeMethods } from "./contract-kit.ts";
import { STORE_CONTRACTS } from "./contracts.ts";

/**
 * Runs every domain contract on one adapter, then checks that together they called every
 * method of the Store: a method added to a domain without a contract fails here.
 */
export function runStoreContracts(adapter: string, open: OpenStore): void {
  for (const contract of STORE_CONTRACTS) contract(adapter, open);
  it(`the contracts call every Store method (${adapter})`, async () => {
    const { store, cleanup } = await open();
    try {
      const missing = storeMethods(store).filter((m) => !CALLED.has(m));
      expect(missing).toEqual([]);
    } finally {
      await store.close();
      await cleanup();
    }
  });
}
