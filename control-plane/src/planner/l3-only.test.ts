import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Catalog, loadCatalog } from "#catalog";
import { type PlannerWorld, REPO_ROOT, startPlannerWorld } from "../testing/planner-world.ts";
import { l2Candidates, matchingRunbooks } from "./candidates.ts";

/**
 * A runbook the catalog allows only to a person (tiers [L3]) is never offered to the model,
 * even when its triggers match the incident exactly: the model is not asked, no order is
 * issued, and the incident goes to the L3 queue, where the runbook is a candidate.
 */
const RUNBOOK = "RB-SERVICE-001-crash";
let world: PlannerWorld;
let catalog: Catalog;

beforeAll(async () => {
  const real = await loadCatalog(REPO_ROOT);
  catalog = {
    ...real,
    runbooks: real.runbooks.map((r) => (r.id === RUNBOOK ? { ...r, tiers: ["L3" as const] } : r)),
  };
  world = await startPlannerWorld({ planner: { catalog } });
});
afterAll(() => world.cleanup());

describe("an L3-only runbook", () => {
  it("is never an L2 candidate: the model is not asked, nothing is ordered, the incident escalates", async () => {
    const site = await world.site("clinic-l3", "clinic-l3-01");
    const calls = world.model.requests.length;
    const incident = await site.incident();
    expect(matchingRunbooks(catalog, incident, "L3").map((r) => r.id)).toContain(RUNBOOK);
    expect(l2Candidates(catalog, incident).candidates.map((r) => r.id)).not.toContain(RUNBOOK);

    expect((await site.poll()).orders).toEqual([]);
    expect(world.model.requests.length).toBe(calls);
    const res = await world.h.admin(
      `/tenants/clinic-l3/appliances/clinic-l3-01/incidents/${incident.incident_id}`,
    );
    const state = (await res.json()) as {
      status: string;
      decisions: { outcome: string; tier: string }[];
    };
    expect(state.status).toBe("escalated");
    expect(state.decisions.at(-1)).toMatchObject({ outcome: "escalated" });
  });
});
