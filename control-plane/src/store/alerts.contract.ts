import { expect, it } from "vitest";
import { AT, defineStoreContract } from "./contract-kit.ts";

export const alertContract = defineStoreContract("alerts", (store) => {
  it("keeps alerts per tenant, oldest first", async () => {
    const alert = (code: string, createdAt: string) => ({
      tenantId: "clinic-a",
      applianceId: "a-01",
      code,
      detail: "d",
      createdAt,
    });
    await store().recordAlert(alert("clock_skew", "2026-11-25T12:10:00.000Z"));
    await store().recordAlert(alert("evidence_fork", AT));
    expect((await store().listAlerts("clinic-a")).map((a) => a.code)).toEqual([
      "evidence_fork",
      "clock_skew",
    ]);
    expect((await store().listAlerts("clinic-a"))[0]).toEqual(alert("evidence_fork", AT));
    expect(await store().listAlerts("clinic-b")).toEqual([]);
  });
});
