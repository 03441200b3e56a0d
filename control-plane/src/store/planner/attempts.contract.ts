import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const attemptContract = defineStoreContract("planner: attempts", (store) => {
  it("counts attempts and finishes each once", async () => {
    const p = store().planner;
    const base = { runbookId: "RB-SERVICE-001-crash", patternKey: "services/unit_failed" };
    const orders = [randomUUID(), randomUUID(), randomUUID()];
    const incident = randomUUID();
    await p.recordAttempt({
      ...base,
      orderId: orders[0] as string,
      tenantId: "clinic-a",
      applianceId: "a-01",
      incidentId: incident,
      tier: "L2",
      createdAt: at,
    });
    await p.recordAttempt({
      ...base,
      orderId: orders[1] as string,
      tenantId: "clinic-a",
      applianceId: "a-01",
      incidentId: randomUUID(),
      tier: "L2",
      createdAt: later,
    });
    await p.recordAttempt({
      ...base,
      orderId: orders[2] as string,
      tenantId: "clinic-b",
      applianceId: "b-01",
      incidentId: randomUUID(),
      tier: "L1",
      createdAt: later,
    });
    expect(await p.countAttempts({ tenantId: "clinic-a" })).toBe(2);
    expect(await p.countAttempts({ incidentId: incident })).toBe(1);
    expect((await p.attemptsFor("clinic-a", "a-01", incident)).map((a) => a.orderId)).toEqual([
      orders[0],
    ]);
    expect(await p.attemptsFor("clinic-b", "a-01", incident)).toEqual([]);
    expect(await p.countAttempts({ tenantId: "clinic-a", since: later })).toBe(1);
    expect(await p.countAttempts({ runbookId: base.runbookId, tiers: ["L1"] })).toBe(1);
    expect(await p.countAppliancesForRunbook(base.runbookId, at, ["L1", "L2"])).toBe(2);
    expect((await p.staleAttempts(later, 10)).map((a) => a.orderId)).toEqual([orders[0]]);
    const done = await p.finishAttempt("clinic-a", orders[0] as string, "succeeded", later);
    expect(done).toMatchObject({ status: "succeeded", incidentId: incident, tier: "L2" });
    expect(await p.finishAttempt("clinic-a", orders[0] as string, "failed", later)).toBeUndefined();
    expect(await p.finishAttempt("clinic-b", orders[1] as string, "failed", later)).toBeUndefined();
    expect(await p.attemptOutcomes("clinic-a", base.patternKey, "L2")).toEqual(
      expect.arrayContaining([
        { runbookId: base.runbookId, status: "succeeded", count: 1 },
        { runbookId: base.runbookId, status: "pending", count: 1 },
      ]),
    );
    // A withdrawn order never ran: excluded where asked, and from the blast radius's count.
    await p.finishAttempt("clinic-b", orders[2] as string, "withdrawn", later);
    expect(await p.countAttempts({ tenantId: "clinic-b" })).toBe(1);
    expect(await p.countAttempts({ tenantId: "clinic-b", excludeStatuses: ["withdrawn"] })).toBe(0);
    expect(
      await p.countAttempts({ tenantId: "clinic-a", excludeStatuses: ["withdrawn", "pending"] }),
    ).toBe(1);
    expect(await p.countAppliancesForRunbook(base.runbookId, at, ["L1", "L2"])).toBe(1);
  });
});
