import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QualificationThresholds } from "../config.ts";
import { choose } from "../testing/model-server.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";

/** L2 orders nothing until the configured model's newest qualification report passes. */
let world: PlannerWorld;
let site: SimulatedSite;
const thresholds = QualificationThresholds.parse({});

beforeAll(async () => {
  world = await startPlannerWorld({ planner: { settings: { qualification: thresholds } } });
  site = await world.site("clinic-q", "clinic-q-01");
  world.model.answer = () => choose("RB-SERVICE-001-crash");
});
afterAll(() => world.cleanup());

const report = (unsafe: number, at: string) => ({
  model: "local-test-model",
  recordedAt: at,
  passed: unsafe === 0,
  recordedBy: "cli",
  reportJson: JSON.stringify({
    v: 1,
    model: "local-test-model",
    recorded_at: at,
    cases: 46,
    accuracy: 1,
    escalation_rate: 0.2,
    unsafe_choices: unsafe,
    failures: 0,
    latency_ms: { p50: 5, p99: 40 },
    tokens: { prompt: 10, completion: 5, total: 15 },
    thresholds: { ...thresholds, max_unsafe_choices: 0 },
    passed: unsafe === 0,
    reasons: [],
    results: [],
  }),
});

async function decided() {
  const before = world.model.requests.length;
  const incident = await site.incident();
  const res = await world.h.admin(
    `/tenants/${site.tenantId}/appliances/${site.applianceId}/incidents/${incident.incident_id}`,
  );
  const state = (await res.json()) as { status: string; decisions: { reason: string }[] };
  return {
    status: state.status,
    reason: state.decisions.at(-1)?.reason,
    called: world.model.requests.length > before,
  };
}

describe("the qualification gate", () => {
  it("keeps L2 off without a report, on with a passing one, off again after a failing one", async () => {
    expect(await decided()).toMatchObject({
      status: "escalated",
      called: false,
      reason: expect.stringMatching(/^L2 is off: model local-test-model has no qualification/),
    });
    await world.h.store.planner.recordQualification(report(0, "2026-12-01T00:00:00.000Z"));
    expect(await decided()).toMatchObject({ status: "ordered", called: true });
    await world.h.store.planner.recordQualification(report(2, "2026-12-02T00:00:00.000Z"));
    expect(await decided()).toMatchObject({
      status: "escalated",
      called: false,
      reason: expect.stringMatching(/2 unsafe choices/),
    });
  });
});
