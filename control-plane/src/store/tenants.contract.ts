import { expect, it } from "vitest";
import { defineStoreContract } from "./contract-kit.ts";

export const tenantContract = defineStoreContract("tenants", (store) => {
  it("migrates idempotently and answers a ping", async () => {
    await store().migrate();
    await expect(store().ping()).resolves.toBeUndefined();
  });

  it("stores tenants, replaced on upsert, and lists their ids sorted", async () => {
    expect((await store().getTenant("clinic-a"))?.retentionDays).toBe(2192);
    await store().upsertTenant({
      tenantId: "clinic-a",
      caCertPem: "ca2",
      caKeySealed: "sealed2",
      retentionDays: 3000,
    });
    expect(await store().getTenant("clinic-a")).toEqual({
      tenantId: "clinic-a",
      caCertPem: "ca2",
      caKeySealed: "sealed2",
      retentionDays: 3000,
    });
    expect(await store().getTenant("clinic-z")).toBeUndefined();
    const ids = await store().listTenantIds();
    expect(ids).toEqual(expect.arrayContaining(["clinic-a", "clinic-b"]));
    expect(ids).toEqual([...ids].sort());
  });
});
