import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { choose } from "../testing/model-server.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";

/**
 * What a misbehaving model server does to an incident, end to end (appliance POST, background
 * planning over HTTP, the signed decision chain, /metrics): every failure reaches L3 with its
 * reason in the signed record and in a labelled metric; no model-provided number can make the
 * chain unverifiable.
 */
let world: PlannerWorld;
let site: SimulatedSite;

beforeAll(async () => {
  world = await startPlannerWorld();
  site = await world.site("clinic-f", "clinic-f-01");
});
afterAll(() => world.cleanup());

async function lastDecision(incidentId: string) {
  const res = await world.h.admin(
    `/tenants/${site.tenantId}/appliances/${site.applianceId}/incidents/${incidentId}`,
  );
  const state = (await res.json()) as {
    status: string;
    decisions: { outcome: string; reason: string; llm?: Record<string, unknown> }[];
  };
  return { status: state.status, decision: state.decisions.at(-1) };
}

const sound = () => (choose("RB-SERVICE-001-crash") as { content: string }).content;

describe("L2 failures through the pipeline", () => {
  it("records model token counts that are not non-negative integers as absent; the chain verifies", async () => {
    world.model.answer = () => ({
      content: sound(),
      usage: { prompt_tokens: 1.5, completion_tokens: -2 },
    });
    const incident = await site.incident();
    const { status, decision } = await lastDecision(incident.incident_id);
    expect(status).toBe("ordered");
    expect(decision?.llm).not.toHaveProperty("prompt_tokens");
    expect(decision?.llm).not.toHaveProperty("completion_tokens");
    expect((await site.decisions()).verified).toBe(true);
  });

  it.each([
    [
      "a truncated answer",
      () => ({ content: '{"runbook_id": "RB-SERV', finish_reason: "length" }),
      "truncated",
    ],
    ["an empty object", () => ({ raw: { status: 200, body: "{}" } }), "no_answer"],
    ["a tool call", () => ({ content: "", finish_reason: "tool_calls" }), "tool_call"],
  ] as const)("sends %s to L3 with its reason kept and counted", async (_name, reply, code) => {
    world.model.answer = reply as never;
    const incident = await site.incident();
    const { status, decision } = await lastDecision(incident.incident_id);
    expect(status).toBe("escalated");
    expect(decision?.outcome).toBe("escalated");
    expect(decision?.llm).toMatchObject({ failure_code: code });
    expect(decision?.reason).toMatch(/^L2 failed: /);
    const metrics = await (await world.h.ops("/metrics")).text();
    expect(metrics).toMatch(
      new RegExp(`^cp_planner_l2_failures_total\\{reason="${code}"\\} 1$`, "m"),
    );
    expect((await site.decisions()).verified).toBe(true);
  });
});
