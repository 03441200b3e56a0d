import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import type { Store } from "../port.ts";

/**
 * The planner part of the Store contract, run inside storeContract on both adapters. Uses the
 * tenants and appliances the main contract created (clinic-a/a-01, clinic-b/b-01).
 */
export function plannerStoreContract(store: () => Store, at: string): void {
  const later = "2026-11-25T12:30:00.000Z";

  it("planner: keeps site policies and the kill switch", async () => {
    const p = store().planner;
    expect(await p.getSitePolicy("clinic-a")).toBeUndefined();
    await p.putSitePolicy("clinic-a", '{"audit_only":true}', at, "t");
    await p.putSitePolicy("clinic-a", '{"audit_only":false}', later, "t");
    expect(await p.getSitePolicy("clinic-a")).toEqual({
      policyJson: '{"audit_only":false}',
      updatedAt: later,
    });
    expect(await p.getSitePolicy("clinic-b")).toBeUndefined();
    expect(await p.getKillSwitch()).toBeUndefined();
    await p.setKillSwitch(true, "incident review", at, "t");
    expect(await p.getKillSwitch()).toMatchObject({ engaged: true, reason: "incident review" });
    await p.setKillSwitch(false, "", later, "t");
    expect((await p.getKillSwitch())?.engaged).toBe(false);
  });

  it("planner: moves incidents by compare-and-set, scoped by tenant", async () => {
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

  it("planner: counts attempts and finishes each once", async () => {
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
  });

  it("planner: chains decisions per appliance without forks under concurrent writers", async () => {
    const p = store().planner;
    const incident = randomUUID();
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        p.appendDecision("clinic-a", "a-01", incident, (prev) => ({
          json: JSON.stringify({ i, prev: prev.hash }),
          hash: `${i}${prev.hash.slice(1)}`,
        })),
      ),
    );
    const rows = await p.listDecisions("clinic-a", "a-01", 0, 10);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(JSON.parse(rows[0]?.recordJson ?? "{}").prev).toBe(GENESIS_HEAD.hash);
    for (let i = 1; i < rows.length; i++) {
      expect(JSON.parse(rows[i]?.recordJson ?? "{}").prev).toBe(rows[i - 1]?.hash);
    }
    expect((await p.decisionsForIncident("clinic-a", incident)).length).toBe(4);
    expect(await p.decisionsForIncident("clinic-b", incident)).toEqual([]);
  });

  it("planner: commits a decision with its status change and order, once, all or nothing", async () => {
    const s = store();
    const p = s.planner;
    const planning = async () => {
      const id = randomUUID();
      await s.recordIncident("clinic-a", "a-01", id, '{"x":1}', at);
      await p.openIncident("clinic-a", "a-01", id, at);
      await p.transitionIncident("clinic-a", "a-01", id, ["queued"], "planning", at, {});
      return id;
    };
    const seal = (prev: { hash: string }) => ({
      json: JSON.stringify({ prev: prev.hash }),
      hash: randomUUID().replaceAll("-", ""),
    });
    const newOrder = () => ({
      orderId: randomUUID(),
      runbookId: "RB-SERVICE-001-crash",
      params: {},
      tier: "L1" as const,
      issuedAt: at,
      expiresAt: later,
    });
    const ordersOf = async () => (await s.ordersAfter("clinic-a", "a-01", 0, 1000)).length;
    const decide = (incidentId: string, order = newOrder()) =>
      p.commitDecision({
        tenantId: "clinic-a",
        applianceId: "a-01",
        incidentId,
        from: ["planning"],
        to: "ordered",
        at: later,
        note: { order_id: order.orderId },
        order: { order, patternKey: "services/unit_failed" },
        seal,
      });

    const id = await planning();
    const before = await ordersOf();
    const first = await decide(id);
    expect(first?.order).toMatchObject({ runbookId: "RB-SERVICE-001-crash", status: "pending" });
    expect(first?.decision.incidentId).toBe(id);
    expect(await p.getIncident("clinic-a", "a-01", id)).toMatchObject({
      status: "ordered",
      note: { order_id: first?.order?.orderId },
    });
    expect((await p.attemptsFor("clinic-a", "a-01", id)).map((a) => a.orderId)).toEqual([
      first?.order?.orderId,
    ]);
    // A takeover (redelivery) finds the incident decided: nothing more is written.
    expect(await decide(id)).toBeUndefined();
    expect(await ordersOf()).toBe(before + 1);
    expect((await p.decisionsForIncident("clinic-a", id)).length).toBe(1);
    expect((await p.attemptsFor("clinic-a", "a-01", id)).length).toBe(1);

    // A failure inside the transaction (here: sealing) leaves nothing of it behind.
    const failing = await planning();
    await expect(
      p.commitDecision({
        tenantId: "clinic-a",
        applianceId: "a-01",
        incidentId: failing,
        from: ["planning"],
        to: "escalated",
        at: later,
        note: {},
        order: { order: newOrder(), patternKey: "services/unit_failed" },
        seal: () => {
          throw new Error("killed mid-decision");
        },
      }),
    ).rejects.toThrow("killed mid-decision");
    expect((await p.getIncident("clinic-a", "a-01", failing))?.status).toBe("planning");
    expect(await ordersOf()).toBe(before + 1);
    expect(await p.attemptsFor("clinic-a", "a-01", failing)).toEqual([]);
    expect(await p.decisionsForIncident("clinic-a", failing)).toEqual([]);
    // The order sequence was not consumed either: the next order follows the first directly.
    const next = await decide(failing);
    expect(next?.order?.seq).toBe((first?.order?.seq ?? 0) + 1);

    // An escalation without an order: status and record together, scoped by tenant.
    const escalating = await planning();
    const escalated = await p.commitDecision({
      tenantId: "clinic-a",
      applianceId: "a-01",
      incidentId: escalating,
      from: ["planning"],
      to: "escalated",
      at: later,
      note: { reason: "no planner" },
      seal,
    });
    expect(escalated?.order).toBeUndefined();
    expect((await p.getIncident("clinic-a", "a-01", escalating))?.status).toBe("escalated");
    expect((await p.decisionsForIncident("clinic-a", escalating)).length).toBe(1);
    expect(
      await p.commitDecision({
        tenantId: "clinic-b",
        applianceId: "a-01",
        incidentId: escalating,
        from: ["escalated"],
        to: "resolved",
        at: later,
        note: {},
        seal,
      }),
    ).toBeUndefined();
    expect(await p.decisionsForIncident("clinic-b", escalating)).toEqual([]);
  });

  it("planner: one proposal per pattern, decided once; rule set versions are unique", async () => {
    const p = store().planner;
    const proposal = {
      proposalId: randomUUID(),
      tenantId: "clinic-a",
      patternKey: "services/unit_failed",
      checkId: "services",
      finding: "unit_failed",
      runbookId: "RB-SERVICE-001-crash",
      successes: 5,
      status: "proposed" as const,
      createdAt: at,
    };
    expect(await p.createProposal(proposal)).toBe(true);
    expect(await p.createProposal({ ...proposal, proposalId: randomUUID() })).toBe(false);
    expect(await p.getProposal("clinic-b", proposal.proposalId)).toBeUndefined();
    expect(
      await p.decideProposal("clinic-a", proposal.proposalId, "approved", later, "op", null),
    ).toBe(true);
    expect(
      await p.decideProposal("clinic-a", proposal.proposalId, "rejected", later, "op", null),
    ).toBe(false);
    expect((await p.listProposals("clinic-a"))[0]).toMatchObject({
      status: "approved",
      decidedBy: "op",
    });
    expect(await p.latestRuleSet("clinic-a")).toBeUndefined();
    const set = { tenantId: "clinic-a", version: 1, issuedAt: at, rulesJson: "[]" };
    expect(await p.appendRuleSet(set)).toBe(true);
    expect(await p.appendRuleSet(set)).toBe(false);
    expect(await p.appendRuleSet({ ...set, version: 2, rulesJson: "[1]" })).toBe(true);
    expect(await p.latestRuleSet("clinic-a")).toMatchObject({ version: 2, rulesJson: "[1]" });
    expect(await p.latestRuleSet("clinic-b")).toBeUndefined();
  });
}
