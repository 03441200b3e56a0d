import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Queue, QueueMessage } from "./port.ts";

async function eventually(what: string, probe: () => Promise<unknown>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The contract both queue adapters pass. `open` yields an empty queue with maxDeliver 3. */
export function queueContract(
  name: string,
  open: () => Promise<{ queue: Queue; cleanup: () => Promise<void> }>,
): void {
  describe(`Queue contract: ${name}`, () => {
    let queue: Queue;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ queue, cleanup } = await open());
    });
    afterAll(async () => {
      await queue.close();
      await cleanup();
    });

    it("delivers each dedup id once, even when published twice", async () => {
      const got: QueueMessage[] = [];
      const sub = await queue.consume({ kind: "incidents", durable: "dedup" }, async (m) => {
        got.push(m);
      });
      await queue.publish({ tenantId: "clinic-a", kind: "incidents", id: "i-1", body: "one" });
      await queue.publish({ tenantId: "clinic-a", kind: "incidents", id: "i-1", body: "one" });
      await queue.publish({ tenantId: "clinic-b", kind: "incidents", id: "i-2", body: "two" });
      await eventually("two deliveries", async () => (got.length === 2 ? true : undefined), 5000);
      await new Promise((r) => setTimeout(r, 200));
      await sub.stop();
      expect(got.map((m) => [m.tenantId, m.id, m.body, m.deliveryCount]).sort()).toEqual([
        ["clinic-a", "i-1", "one", 1],
        ["clinic-b", "i-2", "two", 1],
      ]);
    });

    it("redelivers a failed message, then dead-letters it after maxDeliver", async () => {
      const attempts = new Map<string, number>();
      const sub = await queue.consume({ kind: "archive", durable: "retry" }, async (m) => {
        const n = (attempts.get(m.id) ?? 0) + 1;
        attempts.set(m.id, n);
        if (m.id === "poison" || n === 1) throw new Error(`boom ${m.id}`);
      });
      await queue.publish({ tenantId: "clinic-a", kind: "archive", id: "flaky", body: "f" });
      await queue.publish({ tenantId: "clinic-b", kind: "archive", id: "poison", body: "p" });
      await eventually(
        "a dead letter",
        async () => ((await queue.stats()).deadLetters === 1 ? true : undefined),
        10_000,
      );
      await sub.stop();
      expect(attempts.get("flaky")).toBe(2);
      expect(attempts.get("poison")).toBe(3);
      const [dead] = await queue.deadLetters(10);
      expect(dead).toMatchObject({
        tenantId: "clinic-b",
        kind: "archive",
        id: "poison",
        body: "p",
        deliveries: 3,
      });
      expect(dead?.error).toContain("boom poison");
      // The dead letter is written before the original is terminated (never lost in between).
      await eventually(
        "the work stream empties",
        async () => ((await queue.stats()).pending === 0 ? true : undefined),
        5000,
      );
    });

    it("a tenant's consumer sees only that tenant's messages", async () => {
      const a: string[] = [];
      const b: string[] = [];
      const subA = await queue.consume(
        { kind: "evidence", durable: "only-a", tenantId: "clinic-a" },
        async (m) => {
          a.push(`${m.tenantId}/${m.id}`);
        },
      );
      const subB = await queue.consume(
        { kind: "evidence", durable: "only-b", tenantId: "clinic-b" },
        async (m) => {
          b.push(`${m.tenantId}/${m.id}`);
        },
      );
      for (let i = 0; i < 5; i++) {
        await queue.publish({ tenantId: "clinic-a", kind: "evidence", id: `a${i}`, body: "" });
        await queue.publish({ tenantId: "clinic-b", kind: "evidence", id: `b${i}`, body: "" });
      }
      await eventually(
        "both tenants",
        async () => (a.length === 5 && b.length === 5 ? true : undefined),
        5000,
      );
      await Promise.all([subA.stop(), subB.stop()]);
      expect(a.every((x) => x.startsWith("clinic-a/a"))).toBe(true);
      expect(b.every((x) => x.startsWith("clinic-b/b"))).toBe(true);
    });

    it("refuses a tenant id that is not a subject-safe DNS label", async () => {
      await expect(
        queue.publish({ tenantId: "a.>", kind: "incidents", id: "x", body: "" }),
      ).rejects.toThrow(/tenantId/);
    });
  });
}
