import { afterAll, beforeAll, describe } from "vitest";
import type { EnrollmentClaim, Store } from "./port.ts";

/** Opens a fresh, empty store of one adapter; `cleanup` removes it after the contract ran. */
export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/** One domain's part of the Store contract, run by each adapter's test (sqlite/, postgres/). */
export type StoreContract = (adapter: string, open: OpenStore) => void;

export const AT = "2026-11-25T12:00:00.000Z";
export const LATER = "2026-11-25T12:30:00.000Z";
export const TENANTS = ["clinic-a", "clinic-b"] as const;
export const SETTINGS = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 };
export const CLAIM: EnrollmentClaim = {
  evidencePublicKey: "k".repeat(44),
  evidenceKeyFingerprint: "f".repeat(64),
  csrPem: "csr",
  hostname: "box",
  agentVersion: "0.1.0",
};

/** Every Store method (and `planner.` method) some contract called, across all contracts. */
export const CALLED = new Set<string>();

/** The methods of a store ("planner.x" for the planner's): what the contracts must cover. */
export function storeMethods(store: Store): string[] {
  const methods = (o: object, prefix: string) =>
    Object.entries(o)
      .filter(([, v]) => typeof v === "function")
      .map(([k]) => `${prefix}${k}`);
  return [...methods(store, ""), ...methods(store.planner, "planner.")].sort();
}

/** The store as a contract sees it: each method it reads is recorded in CALLED. */
function recorded<T extends object>(target: T, prefix = ""): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const value = Reflect.get(t, key, receiver);
      if (typeof key !== "string") return value;
      if (key === "planner") return recorded(value as object, "planner.");
      if (typeof value === "function") CALLED.add(`${prefix}${key}`);
      return value;
    },
  });
}

/**
 * Defines a domain's contract (docs/contributing.md, ports and adapters): each adapter runs `body` against its own
 * freshly migrated store holding the tenants clinic-a and clinic-b, plus what `seed` adds.
 * Tests inside one contract run in order and may build on each other.
 */
export function defineStoreContract(
  domain: string,
  body: (store: () => Store) => void,
  seed?: (store: Store) => Promise<void>,
): StoreContract {
  return (adapter, open) => {
    describe(`Store contract (${domain}): ${adapter}`, () => {
      let store: Store;
      let cleanup: () => Promise<void>;
      beforeAll(async () => {
        ({ store, cleanup } = await open());
        await store.migrate();
        for (const tenantId of TENANTS) {
          await store.upsertTenant({
            tenantId,
            caCertPem: "ca",
            caKeySealed: "sealed",
            retentionDays: 2192,
          });
        }
        await seed?.(store);
      });
      afterAll(async () => {
        await recorded(store).close(); // closing is part of the contract too
        await cleanup();
      });
      body(() => recorded(store));
    });
  };
}

/** Registers an appliance with the given expected MACs and optional one-time token hash. */
export function register(
  store: Store,
  tenantId: string,
  applianceId: string,
  macs: string[],
  tokenHash: string | null = null,
): Promise<boolean> {
  return store.registerAppliance({
    tenantId,
    applianceId,
    macs,
    settings: SETTINGS,
    tokenHash,
    tokenExpiresAt: tokenHash ? "2026-12-01T00:00:00.000Z" : null,
    createdAt: AT,
  });
}

/** A seed: appliance a-01 registered for clinic-a and b-01 for clinic-b. */
export async function withAppliances(store: Store): Promise<void> {
  await register(store, "clinic-a", "a-01", ["02:00:00:00:0a:01"]);
  await register(store, "clinic-b", "b-01", ["02:00:00:00:0b:01"]);
}
