import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOperator, DASHBOARD_ORIGIN, dashboardSignIn } from "../testing/harness.ts";
import { allowedIds, choose, type ModelServer, startModelServer } from "../testing/model-server.ts";
import { makePacket } from "../testing/packet-job.ts";
import {
  localModelPlanner,
  type PlannerWorld,
  REPO_ROOT,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import type { LlmPlanner } from "./index.ts";

/**
 * Planning always ends. Whatever throws while an incident is planned is caught, counted and
 * retried a bounded number of times within a deadline; then the incident goes to a human with
 * the reason, a signed decision record, the webhook and a metric. Incidents waiting too long
 * are visible (dashboard, metric, webhook). Real app, SQLite, the real model client against the
 * local model server; `mode` makes the planner misbehave between the client and the pipeline.
 */
type Mode = "sound" | "unsignable_usage" | "throws";
let mode: Mode = "sound";
let model: ModelServer;
let world: PlannerWorld;
let site: SimulatedSite;
const events: Record<string, unknown>[] = [];

beforeAll(async () => {
  model = await startModelServer((r) => choose(allowedIds(r)[0] ?? "escalate", 0.95));
  const real = localModelPlanner(model.baseUrl);
  // The last guard: a client that lets a fractional token count through, or throws.
  const llm: LlmPlanner = {
    ...real,
    async choose(input, candidates) {
      if (mode === "throws") throw new TypeError("Cannot read properties of undefined");
      const answer = await real.choose(input, candidates);
      if (mode !== "unsignable_usage") return answer;
      return { ...answer, usage: { ...answer.usage, prompt_tokens: 1.5 } } as typeof answer;
    },
  };
  world = await startPlannerWorld({
    planner: {
      llm,
      webhook: {
        send: async (event) => {
          events.push(event);
          return { delivered: true, attempts: 1 };
        },
      },
    },
    app: {
      packets: { dir: mkdtempSync(join(tmpdir(), "cp-bounded-")), catalogDir: REPO_ROOT },
      archiveKind: "local-not-worm",
    },
  });
  site = await world.site("clinic-b", "clinic-b-01");
});
afterAll(async () => {
  await world.cleanup();
  await model.close();
});

async function state(incidentId: string) {
  const res = await world.h.admin(
    `/tenants/${site.tenantId}/appliances/${site.applianceId}/incidents/${incidentId}`,
  );
  return (await res.json()) as {
    status: string;
    note: Record<string, unknown>;
    decisions: { outcome: string; reason: string; llm?: unknown }[];
  };
}

/** One sweep (as the background timer runs it) and everything it started. */
async function sweep() {
  await world.h.app.planner.sweep();
  await world.h.app.planner.drain();
}

const metric = async (name: string) => {
  const text = await (await world.h.ops("/metrics")).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
};

describe("bounded planning", () => {
  it.each([
    ["a decision the model's numbers make unsignable", "unsignable_usage"],
    ["a model client that throws", "throws"],
  ] as const)("%s: retried three times, then a human, the chain intact", async (_name, m) => {
    mode = m;
    const calls = model.requests.length;
    const abandoned = await metric("cp_planner_planning_abandoned_total");
    const incident = await site.incident();
    expect((await state(incident.incident_id)).status).toBe("queued");
    expect((await state(incident.incident_id)).note).toMatchObject({ planning_failures: 1 });
    await sweep();
    await sweep();
    const after = await state(incident.incident_id);
    expect(after.status).toBe("escalated");
    const decision = after.decisions.at(-1);
    expect(decision?.outcome).toBe("escalated");
    expect(decision?.reason).toMatch(/^planning failed 3 time\(s\); last: /);
    expect(decision?.llm).toBeUndefined();
    // Bounded: three attempts, then no more model calls however often the sweep runs.
    await sweep();
    expect(model.requests.length - calls).toBe(m === "throws" ? 0 : 3);
    expect((await site.poll()).orders).toEqual([]);
    expect((await site.decisions()).verified).toBe(true);
    expect(await metric("cp_planner_planning_abandoned_total")).toBe(abandoned + 1);
    expect(events.findLast((e) => e.incident_id === incident.incident_id)).toMatchObject({
      type: "incident.escalated",
      reason: decision?.reason,
    });
    mode = "sound";
  });

  it("the tenant's monthly packet still generates over that chain", async () => {
    const month = new Date().toISOString().slice(0, 7);
    expect((await makePacket(world.h.admin, site.tenantId, { month })).version).toBe(1);
  });

  it("refuses a lone surrogate at the edge, and abandons one stored before", async () => {
    const subject = "chronyd\ud800.service";
    await expect(
      site.incident({
        findings: [{ code: "unit_failed", subject, expected: "active", observed: "failed" }],
      }),
    ).rejects.toThrow(/incident: 400 .*lone surrogate/);

    const id = randomUUID();
    const body = {
      v: 1,
      type: "incident",
      incident_id: id,
      tenant_id: site.tenantId,
      appliance_id: site.applianceId,
      check_id: "services",
      severity: "high",
      detected_at: new Date().toISOString(),
      findings: [{ code: "unit_failed", subject, expected: "active", observed: "failed" }],
      evidence: { seq: 0, hash: "0".repeat(64) },
      local_l1: { attempted: false, why_not: "no local rule" },
    };
    const calls = model.requests.length;
    const at = new Date().toISOString();
    const store = world.h.store;
    await store.recordIncident(site.tenantId, site.applianceId, id, JSON.stringify(body), at);
    await world.h.app.planner.submit({
      tenantId: site.tenantId,
      applianceId: site.applianceId,
      incidentId: id,
    });
    await world.h.app.planner.drain();
    const after = await state(id);
    expect(after.status).toBe("escalated");
    expect(after.decisions.at(-1)?.reason).toMatch(/no longer parses.*lone surrogate.*U\+FFFD/);
    expect(model.requests.length).toBe(calls);
    expect((await site.decisions()).verified).toBe(true);
    expect(events.findLast((e) => e.incident_id === id)).toMatchObject({
      type: "incident.escalated",
    });
  });

  it("past the deadline an incident goes to a human unplanned; a stalled one is shown", async () => {
    const incident = await site.incident();
    expect((await state(incident.incident_id)).status).toBe("ordered");
    // The same incident queued long ago (a worker that kept failing, a queue that was down).
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    const planner = world.h.store.planner;
    const ids = [site.tenantId, site.applianceId, incident.incident_id] as const;
    await planner.transitionIncident(...ids, ["ordered"], "queued", longAgo, {
      planning_since: longAgo,
    });
    expect((await world.h.app.planner.stalled(site.tenantId)).map((s) => s.incidentId)).toEqual([
      incident.incident_id,
    ]);
    await addOperator(world.h.store, "olga", "correct horse battery staple");
    const { cookie } = await dashboardSignIn(world.h, "olga", "correct horse battery staple");
    const page = await world.h.app.request(`${DASHBOARD_ORIGIN}/dashboard`, {
      headers: { cookie },
    });
    expect(await page.text()).toContain("1 waiting for a decision too long");
    const calls = model.requests.length;
    const stalled = await metric("cp_planner_incidents_stalled_total");
    await sweep();
    expect(
      events.find((e) => e.incident_id === incident.incident_id && e.type === "incident.stalled"),
    ).toMatchObject({ status: "queued", waiting_since: longAgo });
    expect(await metric("cp_planner_incidents_stalled_total")).toBe(stalled + 1);
    const after = await state(incident.incident_id);
    expect(after.status).toBe("escalated");
    expect(after.decisions.at(-1)?.reason).toBe("not decided within 900 s");
    expect(model.requests.length).toBe(calls);
    expect(await world.h.app.planner.stalled(site.tenantId)).toEqual([]);
  });
});
