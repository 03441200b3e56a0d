import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract, withAppliances } from "./contract-kit.ts";

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
  },
  withAppliances,
);
