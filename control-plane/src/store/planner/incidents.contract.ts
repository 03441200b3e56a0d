import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const incidentStateContract = defineStoreContract("planner: incident state", (store) => {
  it("moves incidents by compare-and-set, scoped by tenant", async () => {
    const s = store();
    const id = randomUUID();
    await s.recordIncident("clinic-a", "a-01", id, '{"x":1}', at);
    expect(await s.planner.openIncident("clinic-a", "a-01", id, at)).toBe(true);
    expect(await s.planner.openIncident("clinic-a", "a-01", id, at)).toBe(false);
    expect(await s.planner.getIncident("clinic-b", "a-01", id)).toBeUndefined();
    expect(
      await s.planner.transitionIncident("clinic-a", "a-01", id, ["queued"], "planning", at, {}),
    ).toBe(true);
    expect(
      await s.planner.transitionIncident("clinic-a", "a-01", id, ["queued"], "planning", at, {}),
    ).toBe(false);
    await s.planner.transitionIncident("clinic-a", "a-01", id, ["planning"], "escalated", later, {
      why: "no planner",
    });
    expect(await s.planner.getIncident("clinic-a", "a-01", id)).toMatchObject({
      status: "escalated",
      note: { why: "no planner" },
      bodyJson: '{"x":1}',
    });
    expect(
      (await s.planner.incidentsIn("escalated", "clinic-a", 10)).map((i) => i.incidentId),
    ).toContain(id);
    expect(await s.planner.incidentsIn("escalated", "clinic-b", 10)).toEqual([]);
    expect((await s.planner.incidentsIn("escalated", null, 10)).length).toBeGreaterThan(0);
  });
});
