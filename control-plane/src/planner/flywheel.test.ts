import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verificationKey, verifyL1RuleSet } from "#protocol";
import { allowedIds, choose } from "../testing/model-server.ts";
import { type PlannerWorld, startPlannerWorld } from "../testing/planner-world.ts";

/**
 * The data flywheel on the control plane: N verified L2 successes for one pattern → a proposal
 * → operator approval → the site's next signed rule set in every poll → the control plane's
 * own L1 answers the next occurrence without the model.
 */
const N = 3;
/** No shipped L1 rule covers cpu_load_high: RB-CPU-001-high is L2/L3 only in the catalog. */
const CPU = {
  check_id: "services",
  findings: [{ code: "cpu_load_high", subject: "chronyd.service" }],
};
let world: PlannerWorld;

beforeAll(async () => {
  world = await startPlannerWorld({
    planner: { settings: { flywheelMinSuccesses: N, blastRadiusPerHour: 100 } },
  });
  world.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.9);
});
afterAll(() => world.cleanup());

type Proposal = {
  proposal_id: string;
  pattern: string;
  runbook_id: string;
  successes: number;
  status: string;
};
const proposals = async (tenant: string) =>
  (await (await world.h.admin(`/tenants/${tenant}/rule-proposals`)).json()) as Proposal[];

/** One L2-healed occurrence on a fresh appliance of the tenant (no cooldown in the way). */
async function healedByL2(
  tenant: string,
  i: number,
  outcome: "succeeded" | "failed" = "succeeded",
  withoutEvidence = false,
) {
  const site = await world.site(tenant, `${tenant}-${i}`);
  await site.incident(CPU);
  const { orders } = await site.poll();
  const order = orders[0];
  if (!order) throw new Error("no order");
  expect(order).toMatchObject({
    tier: "L2",
    runbook_id: "RB-CPU-001-high",
    params: { unit: "chronyd.service" },
  });
  await site.report(order, outcome, { withoutEvidence });
  return site;
}

describe("data flywheel", () => {
  it("proposes an L1 rule after N verified L2 successes, signs it on approval, and uses it", async () => {
    // An outcome the evidence does not back is not counted.
    await healedByL2("fly-a", 0, "succeeded", true);
    for (let i = 1; i < N; i++) await healedByL2("fly-a", i);
    expect(await proposals("fly-a")).toEqual([]);
    await healedByL2("fly-a", N);
    const [proposal] = await proposals("fly-a");
    expect(proposal).toMatchObject({
      pattern: "services/cpu_load_high",
      runbook_id: "RB-CPU-001-high",
      successes: N,
      status: "proposed",
    });

    const approved = await world.h.admin(
      `/tenants/fly-a/rule-proposals/${proposal?.proposal_id}/approve`,
      {},
    );
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: "approved", rule_set_version: 1 });
    expect(
      (await world.h.admin(`/tenants/fly-a/rule-proposals/${proposal?.proposal_id}/approve`, {}))
        .status,
    ).toBe(409);

    // Every appliance of the site receives the signed set in its poll; each verifies it.
    const site = await world.site("fly-a", "fly-a-next");
    const { response } = await site.poll();
    const verdict = verifyL1RuleSet(response.l1_rules, {
      key: verificationKey(world.h.signer.publicKey),
      tenantId: "fly-a",
      applianceId: "fly-a-next",
      currentVersion: 0,
      runbooks: new Set(world.catalog.runbooks.map((r) => r.id)),
    });
    expect(verdict).toMatchObject({
      ok: true,
      ruleSet: {
        version: 1,
        rules: [
          {
            check_id: "services",
            finding: "cpu_load_high",
            runbook_id: "RB-CPU-001-high",
          },
        ],
      },
    });
    // Another tenant's appliance gets no rules of this tenant.
    const other = await world.site("fly-b", "fly-b-0");
    expect((await other.poll()).response.l1_rules).toBeUndefined();

    // The next occurrence is decided by the control plane's L1 rule: the model is not asked.
    const asked = world.model.requests.length;
    await site.incident(CPU);
    const { orders } = await site.poll();
    expect(orders[0]).toMatchObject({
      tier: "L1",
      runbook_id: "RB-CPU-001-high",
      params: { unit: "chronyd.service" },
    });
    expect(world.model.requests.length).toBe(asked);
    expect((await site.decisions()).records.at(-1)?.decided_by).toMatch(/^control-plane:l1:/);

    // Revoking the rule publishes the next version without it.
    const rules = (await (await world.h.admin("/tenants/fly-a/l1-rules")).json()) as {
      version: number;
      rules: { rule_id: string }[];
    };
    const revoked = await world.h.admin(
      `/tenants/fly-a/l1-rules/${rules.rules[0]?.rule_id}/revoke`,
      {},
    );
    expect(await revoked.json()).toEqual({ version: 2 });
    expect((await site.poll()).response.l1_rules).toMatchObject({ version: 2, rules: [] });
  });

  it("does not propose a finding the appliance's shipped catalog already heals at L1", async () => {
    for (let i = 0; i < N; i++) {
      const site = await world.site("fly-f", `fly-f-${i}`);
      await site.incident({ check_id: "logging", findings: [{ code: "journald_inactive" }] });
      const order = (await site.poll()).orders[0];
      if (!order) throw new Error("no order");
      expect(order.runbook_id).toBe("RB-LOGGING-001-journald");
      await site.report(order, "succeeded");
    }
    expect(await proposals("fly-f")).toEqual([]);
  });

  it("does not propose a pattern that has failed, and a rejection is final", async () => {
    await healedByL2("fly-c", 0, "failed");
    for (let i = 1; i <= N; i++) await healedByL2("fly-c", i);
    expect(await proposals("fly-c")).toEqual([]);

    for (let i = 0; i < N; i++) await healedByL2("fly-d", i);
    const [proposal] = await proposals("fly-d");
    const res = await world.h.admin(
      `/tenants/fly-d/rule-proposals/${proposal?.proposal_id}/reject`,
      { note: "prefer a human" },
    );
    expect(await res.json()).toEqual({ status: "rejected" });
    await healedByL2("fly-d", N);
    expect((await proposals("fly-d")).map((p) => p.status)).toEqual(["rejected"]);
  });

  it("re-plans a failed order and resolves a succeeded one", async () => {
    const site = await world.site("fly-e", "fly-e-0");
    const incident = await site.incident({
      check_id: "logging",
      findings: [{ code: "journal_usage_high" }],
    });
    const first = (await site.poll()).orders[0];
    if (!first) throw new Error("no order");
    await site.report(first, "failed");
    // Back through the pipeline: the same runbook is now in cooldown, so it goes to a human.
    const state = (await (
      await world.h.admin(`/tenants/fly-e/appliances/fly-e-0/incidents/${incident.incident_id}`)
    ).json()) as { status: string; decisions: { outcome: string }[] };
    expect(state.status).toBe("escalated");
    expect(state.decisions.map((d) => d.outcome)).toEqual([
      "order_issued",
      "outcome_verified",
      "escalated",
    ]);
  });
});

describe("orders the appliance never reports on", () => {
  it("re-plans the incident once its order expired, until max_attempts sends it to a human", async () => {
    let now = Date.now();
    const clocked = await startPlannerWorld({ app: { clock: () => new Date(now) } });
    try {
      clocked.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.9);
      const site = await clocked.site("fly-x", "fly-x-0");
      const incident = await site.incident({
        check_id: "logging",
        findings: [{ code: "journal_usage_high" }],
      });
      const path = `/tenants/fly-x/appliances/fly-x-0/incidents/${incident.incident_id}`;
      const state = async () =>
        (await (await clocked.h.admin(path)).json()) as {
          status: string;
          decisions: { outcome: string; guardrails: { name: string; passed: boolean }[] }[];
        };
      expect((await state()).status).toBe("ordered");
      // Nothing is reported; two hours later the order has expired.
      now += 2 * 3_600_000;
      await clocked.h.app.planner.sweep();
      await clocked.h.app.planner.drain();
      expect((await state()).status).toBe("ordered");
      now += 2 * 3_600_000;
      await clocked.h.app.planner.sweep();
      await clocked.h.app.planner.drain();
      const last = await state();
      expect(last.status).toBe("escalated");
      expect(last.decisions.map((d) => d.outcome)).toEqual([
        "order_issued",
        "order_issued",
        "escalated",
      ]);
      expect(last.decisions.at(-1)?.guardrails.find((g) => g.name === "max_attempts")?.passed).toBe(
        false,
      );
    } finally {
      await clocked.cleanup();
    }
  });
});
