import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import { AT as at, defineStoreContract, LATER as later, withAppliances } from "../contract-kit.ts";

export const decisionContract = defineStoreContract(
  "planner: decision chain",
  (store) => {
    it("chains decisions per appliance without forks under concurrent writers", async () => {
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
    it("commits a decision with its status change and order, once, all or nothing", async () => {
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

    it("decides a guarded commit under its lock rows: concurrent commits count each other", async () => {
      const s = store();
      const p = s.planner;
      const ids = await Promise.all(
        [1, 2, 3, 4, 5].map(async () => {
          const id = randomUUID();
          await s.recordIncident("clinic-a", "a-01", id, '{"x":1}', at);
          await p.openIncident("clinic-a", "a-01", id, at);
          await p.transitionIncident("clinic-a", "a-01", id, ["queued"], "planning", at, {});
          return id;
        }),
      );
      const runbookId = `RB-GUARD-${randomUUID().slice(0, 8)}`;
      // At most 2 orders of this runbook: each check counts, then waits before answering, so
      // without the lock every commit would pass on the same count of 0.
      const outcomes = await Promise.all(
        ids.map((incidentId) => {
          const order = {
            orderId: randomUUID(),
            runbookId,
            params: {},
            tier: "L2" as const,
            issuedAt: at,
            expiresAt: later,
          };
          return p.commitGuardedDecision(
            {
              tenantId: "clinic-a",
              applianceId: "a-01",
              incidentId,
              from: ["planning"],
              to: "ordered",
              at: later,
              note: {},
              order: { order, patternKey: "services/unit_failed" },
              seal: (prev) => ({
                json: JSON.stringify({ prev: prev.hash }),
                hash: randomUUID().replaceAll("-", ""),
              }),
            },
            {
              locks: ["tenant:clinic-a", `runbook:${runbookId}`],
              async check(counters) {
                const n = await counters.countAttempts({ tenantId: "clinic-a", runbookId });
                await new Promise((r) => setTimeout(r, 20));
                const across = await counters.countAppliancesForRunbook(runbookId, at, ["L2"]);
                return n < 2 && across <= 1;
              },
            },
          );
        }),
      );
      expect(outcomes.filter((o) => o && "order" in o)).toHaveLength(2);
      expect(outcomes.filter((o) => o && "blocked" in o)).toHaveLength(3);
      expect(await p.countAttempts({ tenantId: "clinic-a", runbookId })).toBe(2);
      // A blocked commit wrote nothing of its decision.
      const states = await Promise.all(ids.map((id) => p.getIncident("clinic-a", "a-01", id)));
      expect(states.filter((st) => st?.status === "planning")).toHaveLength(3);
      expect(
        await p.countAttempts({ tenantId: "clinic-a", runbookId, excludeStatuses: ["pending"] }),
      ).toBe(0);
    });
  },
  withAppliances,
);
