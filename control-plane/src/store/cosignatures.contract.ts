import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER } from "./contract-kit.ts";
import type { StoredCosignature } from "./port.ts";

export const cosignatureContract = defineStoreContract("cosignatures", (store) => {
  const row = (
    evidenceSeq: number,
    treeSize: number,
    tenantId = "clinic-a",
  ): StoredCosignature => ({
    tenantId,
    applianceId: "a-01",
    evidenceSeq,
    treeSize,
    rootHash: String(treeSize % 10).repeat(64),
    cosignature: `— msp-compliance/appliance/${tenantId}/a-01 ${"A".repeat(100)}==`,
    receivedAt: AT,
  });

  it("keeps each appliance's cosignatures by the checkpoint they sign, in chain order", async () => {
    await store().recordCosignatures([row(21, 20), row(41, 40), row(61, 60)]);
    await store().recordCosignatures([row(21, 20, "clinic-b")]);
    expect(await store().listCosignatures("clinic-a", "a-01", 20, 40)).toEqual([
      row(21, 20),
      row(41, 40),
    ]);
    expect(await store().listCosignatures("clinic-a", "a-01", 0, 1000)).toHaveLength(3);
    expect(await store().listCosignatures("clinic-b", "a-01", 0, 1000)).toEqual([
      row(21, 20, "clinic-b"),
    ]);
    expect(await store().listCosignatures("clinic-a", "a-02", 0, 1000)).toEqual([]);
  });

  it("keeps the first record of a bundle: a resent bundle changes nothing", async () => {
    await store().recordCosignatures([{ ...row(41, 40), receivedAt: LATER }, row(81, 80)]);
    await store().recordCosignatures([]);
    const all = await store().listCosignatures("clinic-a", "a-01", 0, 1000);
    expect(all.map((c) => [c.evidenceSeq, c.receivedAt])).toEqual([
      [21, AT],
      [41, AT],
      [61, AT],
      [81, AT],
    ]);
  });
});
