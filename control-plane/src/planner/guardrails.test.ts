import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord, Incident } from "#protocol";
import { allowedIds, choose } from "../testing/model-server.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import { GUARDRAIL_NAMES } from "./guardrails.ts";
import { inMaintenanceWindow } from "./policy.ts";

/**
 * Every guardrail, shown blocking a decision that would otherwise become an order, and the
 * records it leaves: the incident in the operator queue, a signed decision record naming the
 * guardrail, and an audit entry listing it in blocked_by.
 */
let world: PlannerWorld;
let n = 0;

beforeAll(async () => {
  world = await startPlannerWorld({ planner: { settings: { blastRadiusPerHour: 2 } } });
  world.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.9);
});
afterAll(() => world.cleanup());

/** A fresh tenant (site) with one appliance, and optionally its policy. */
async function freshSite(policy: Record<string, unknown> = {}, tenant = `g${++n}`) {
  const site = await world.site(tenant, `${tenant}-01`);
  const res = await world.h.admin(`/tenants/${tenant}/planner-policy`, policy, "PUT");
  expect(res.status).toBe(200);
  return site;
}

async function expectBlocked(site: SimulatedSite, incident: Incident, guardrail: string) {
  expect((await site.poll()).orders).toEqual([]);
  const records = (await site.decisions()).records.filter(
    (r) => r.incident_id === incident.incident_id,
  );
  const decision = records.at(-1) as DecisionRecord;
  expect(decision.outcome).toBe(guardrail === "audit_only" ? "audit_only" : "escalated");
  expect(decision.guardrails.find((g) => g.name === guardrail)).toMatchObject({ passed: false });
  const state = await world.h.admin(
    `/tenants/${site.tenantId}/appliances/${site.applianceId}/incidents/${incident.incident_id}`,
  );
  const body = (await state.json()) as { status: string; note: { blocked_by: string[] } };
  expect(body.status).toBe("escalated");
  expect(body.note.blocked_by).toContain(guardrail);
  const audit = (await (await world.h.admin("/audit")).json()) as {
    action: string;
    target: string;
    detailJson: string;
  }[];
  const entry = audit.findLast(
    (e) => e.target.endsWith(incident.incident_id) && e.action.startsWith("incident."),
  );
  expect(JSON.parse(entry?.detailJson ?? "{}").blocked_by).toContain(guardrail);
  return decision;
}

async function expectOrdered(site: SimulatedSite) {
  const { orders } = await site.poll();
  expect(orders).toHaveLength(1);
  return orders[0];
}

describe("guardrails", () => {
  it("has ten, each named in every decision record", () => {
    expect(GUARDRAIL_NAMES).toHaveLength(10);
  });

  it("kill_switch: a global halt blocks every automatic order until released", async () => {
    const site = await freshSite();
    expect(
      (await world.h.admin("/planner/kill-switch", { engaged: true, reason: "review" })).status,
    ).toBe(200);
    try {
      await expectBlocked(site, await site.incident(), "kill_switch");
    } finally {
      await world.h.admin("/planner/kill-switch", { engaged: false });
    }
    const other = await freshSite();
    await other.incident();
    await expectOrdered(other);
  });

  it("audit_only: records what it would order and orders nothing", async () => {
    const site = await freshSite({ audit_only: true });
    const decision = await expectBlocked(site, await site.incident(), "audit_only");
    expect(decision.runbook_id).toBe("RB-SERVICE-001-crash");
  });

  it("runbook_allowlist: a runbook outside the site's allowlist is not ordered", async () => {
    const site = await freshSite({ runbook_allowlist: ["RB-BACKUP-001-failure"] });
    await expectBlocked(site, await site.incident(), "runbook_allowlist");
  });

  it("parameter_validation: a unit outside the baseline's allowed units is not ordered", async () => {
    const site = await freshSite();
    const incident = await site.incident({
      findings: [{ code: "unit_failed", subject: "cups.service" }],
    });
    const decision = await expectBlocked(site, incident, "parameter_validation");
    expect(decision.guardrails.find((g) => g.name === "parameter_validation")?.detail).toMatch(
      /unit/,
    );
  });

  it("confidence_threshold: a low-confidence choice goes to a human", async () => {
    const site = await freshSite({ min_confidence: 0.8 });
    world.model.answer = (r) => choose(allowedIds(r)[0] ?? "", 0.4);
    try {
      await expectBlocked(site, await site.incident(), "confidence_threshold");
    } finally {
      world.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.9);
    }
  });

  it("cooldown: the same runbook on the same appliance waits out its cooldown", async () => {
    const site = await freshSite();
    await site.incident();
    await expectOrdered(site);
    await expectBlocked(site, await site.incident(), "cooldown");
  });

  it("max_attempts: the appliance's own failed attempt counts", async () => {
    const site = await freshSite({ max_attempts_per_incident: 1 });
    // The local attempt ran another runbook: the one it ran is never offered again, so the
    // crash runbook stays a candidate and only the attempt count can stop it.
    const incident = await site.incident({
      local_l1: { attempted: true, runbook_id: "RB-CPU-001-high", outcome: "failed" },
    });
    await expectBlocked(site, incident, "max_attempts");
  });

  it("max_attempts: a withdrawn order never ran, so it is not an attempt", async () => {
    const site = await freshSite({ max_attempts_per_incident: 1 });
    const incident = await site.incident({
      check_id: "firewall",
      findings: [{ code: "egress_policy_drift" }],
    });
    expect((await expectOrdered(site))?.runbook_id).toBe("RB-FIREWALL-001-drift");
    // Audit-only withdraws the order; the incident goes through the tiers again.
    const res = await world.h.admin(
      `/tenants/${site.tenantId}/planner-policy`,
      { max_attempts_per_incident: 1, audit_only: true },
      "PUT",
    );
    expect(res.status).toBe(200);
    await world.h.app.planner.drain();
    const decision = await expectBlocked(site, incident, "audit_only");
    expect(decision.guardrails.find((g) => g.name === "max_attempts")).toMatchObject({
      passed: true,
      detail: "0 attempt(s) on this incident, at most 1",
    });
  });

  it("rate_limit: automatic orders per site per hour", async () => {
    const site = await freshSite({ max_orders_per_hour: 1 });
    await site.incident({
      check_id: "backups",
      findings: [{ code: "backup_failed", subject: "clinic-data" }],
    });
    expect((await expectOrdered(site))?.params).toEqual({ job: "clinic-data" });
    const restore = await site.incident({
      check_id: "backups",
      findings: [{ code: "restore_test_overdue", subject: "clinic-data" }],
    });
    await expectBlocked(site, restore, "rate_limit");
  });

  it("blast_radius: one runbook on at most N appliances per hour across all sites", async () => {
    const runbook = "RB-LOGGING-001-journald";
    const logging = { check_id: "logging", findings: [{ code: "journal_usage_high" }] };
    for (let i = 0; i < 2; i++) {
      const site = await freshSite();
      await site.incident(logging);
      expect((await expectOrdered(site))?.runbook_id).toBe(runbook);
    }
    const third = await freshSite();
    await expectBlocked(third, await third.incident(logging), "blast_radius");
  });

  it("maintenance_window: disruptive runbooks only inside the site's window", async () => {
    const patching = { check_id: "patching", findings: [{ code: "generation_mismatch" }] };
    const none = await freshSite();
    await expectBlocked(none, await none.incident(patching), "maintenance_window");
    const now = new Date();
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][now.getUTCDay()];
    const hh = String(now.getUTCHours()).padStart(2, "0");
    const open = await freshSite({
      maintenance_window: {
        days: [day],
        start: `${hh}:00`,
        duration_minutes: 120,
        time_zone: "UTC",
      },
    });
    await open.incident(patching);
    expect((await expectOrdered(open))?.runbook_id).toBe("RB-PATCH-001-generation");
  });

  it("refuses an invalid policy, naming the field", async () => {
    const res = await world.h.admin(`/tenants/g1/planner-policy`, { min_confidence: 3 }, "PUT");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/min_confidence/);
  });
});

describe("maintenance windows", () => {
  const window = {
    days: ["sun" as const],
    start: "23:00",
    duration_minutes: 120,
    time_zone: "America/Chicago",
  };
  it.each([
    ["2026-11-30T05:30:00Z", true], // Sunday 23:30 in Chicago
    ["2026-11-30T06:30:00Z", true], // Monday 00:30, still inside (crosses midnight)
    ["2026-11-30T07:30:00Z", false],
    ["2026-11-29T05:30:00Z", false], // Saturday 23:30
  ])("%s inside: %s", (at, inside) => {
    expect(inMaintenanceWindow(window, new Date(at))).toBe(inside);
  });
});
