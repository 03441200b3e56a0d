import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER, withAppliances } from "./contract-kit.ts";

export const orderContract = defineStoreContract(
  "orders",
  (store) => {
    it("allocates consecutive order sequence numbers per appliance, scoped by tenant", async () => {
      const order = (runbookId: string) => ({
        orderId: randomUUID(),
        runbookId,
        params: { unit: "x" },
        tier: "L3" as const,
        issuedAt: AT,
        expiresAt: "2026-11-25T13:00:00.000Z",
      });
      const created = await Promise.all(
        [1, 2, 3].map(() => store().createOrder("clinic-a", "a-01", order("RB-X-001-a"))),
      );
      expect(created.map((o) => o.seq).sort()).toEqual([1, 2, 3]);
      await store().createOrder("clinic-b", "b-01", order("RB-X-001-b"));
      const after1 = await store().ordersAfter("clinic-a", "a-01", 1, 32);
      expect(after1.map((o) => o.seq)).toEqual([2, 3]);
      expect((await store().ordersAfter("clinic-b", "a-01", 0, 32)).length).toBe(0);
      expect((await store().getAppliance("clinic-a", "a-01"))?.orderSeq).toBe(3);
      const first = created.find((o) => o.seq === 1);
      if (!first) throw new Error("no order 1");
      await store().markDelivered("clinic-a", "a-01", [first.orderId]);
      expect((await store().getOrder("clinic-a", first.orderId))?.status).toBe("delivered");
      expect(await store().getOrder("clinic-b", first.orderId)).toBeUndefined();
      expect(await store().setOrderResult("clinic-b", "b-01", first.orderId, "succeeded", {})).toBe(
        false,
      );
      expect(
        await store().setOrderResult("clinic-a", "a-01", first.orderId, "succeeded", { ok: 1 }),
      ).toBe(true);
      expect(await store().getOrder("clinic-a", first.orderId)).toMatchObject({
        status: "succeeded",
        result: { ok: 1 },
      });
      expect(await store().expireOrders("2026-11-25T14:00:00.000Z")).toBeGreaterThanOrEqual(2);
    });

    it("withdraws what has not run, in scope, in one statement, and lists it until reported", async () => {
      const order = (runbookId: string, tier: "L1" | "L2" | "L3", expiresAt = LATER) => ({
        orderId: randomUUID(),
        runbookId,
        params: {},
        tier,
        issuedAt: AT,
        expiresAt,
      });
      const mk = (tenant: string, appliance: string, o: ReturnType<typeof order>) =>
        store().createOrder(tenant, appliance, o);
      const pending = await mk("clinic-a", "a-01", order("RB-X-001-a", "L2"));
      const delivered = await mk("clinic-a", "a-01", order("RB-X-001-a", "L3"));
      const done = await mk("clinic-a", "a-01", order("RB-X-001-a", "L2"));
      const control = await mk("clinic-a", "a-01", order("RB-HEALING-001-pause", "L3"));
      const stale = await mk("clinic-a", "a-01", order("RB-X-001-a", "L2", AT));
      const other = await mk("clinic-b", "b-01", order("RB-X-001-b", "L1"));
      expect(
        await store().markDelivered("clinic-a", "a-01", [delivered.orderId, done.orderId]),
      ).toBe(2);
      await store().setOrderResult("clinic-a", "a-01", done.orderId, "succeeded", {});

      // Scoped to automatic tiers of one appliance: the L3 order stays.
      const w = { reason: "audit_only" as const, by: "op", at: AT };
      const auto = await store().withdrawOrders(
        { tenantId: "clinic-a", applianceId: "a-01", tiers: ["L1", "L2"] },
        w,
      );
      expect(auto.map((o) => o.orderId)).toEqual([pending.orderId]);
      expect(auto[0]).toMatchObject({
        status: "withdrawn",
        withdrawal: { ...w, previousStatus: "pending" },
      });

      // Global: everything not run, except the control runbooks and what has expired.
      const ks = { reason: "kill_switch" as const, by: "op2", at: AT };
      const all = await store().withdrawOrders({ tenantId: null }, ks);
      expect(all.map((o) => o.orderId).sort()).toEqual([delivered.orderId, other.orderId].sort());
      expect(await store().getOrder("clinic-a", delivered.orderId)).toMatchObject({
        status: "withdrawn",
        withdrawal: { ...ks, previousStatus: "delivered" },
      });
      for (const o of [done, control, stale])
        expect((await store().getOrder("clinic-a", o.orderId))?.withdrawal).toBeNull();
      // Withdrawing again changes nothing; a withdrawn order is never marked delivered.
      expect(await store().withdrawOrders({ tenantId: null }, ks)).toEqual([]);
      expect(await store().markDelivered("clinic-a", "a-01", [pending.orderId])).toBe(0);

      // Listed for the poll up to a sequence number, until the appliance reports on it.
      const listed = async (maxSeq: number) =>
        (await store().withdrawnOrders("clinic-a", "a-01", maxSeq, AT, 64)).map((o) => o.seq);
      expect(await listed(10)).toEqual([pending.seq, delivered.seq]);
      expect(await listed(pending.seq)).toEqual([pending.seq]);
      await store().setOrderResult("clinic-a", "a-01", pending.orderId, "withdrawn", { ok: 1 });
      expect(await listed(10)).toEqual([delivered.seq]);
      expect(await store().withdrawnOrders("clinic-a", "a-01", 10, LATER, 64)).toEqual([]);
    });
  },
  withAppliances,
);
