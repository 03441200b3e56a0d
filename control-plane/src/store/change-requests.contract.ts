import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER } from "./contract-kit.ts";
import type { PlannerStore } from "./planner/port.ts";
import type { NewChangeRequest } from "./port.ts";

const EXPIRES = "2026-11-25T13:00:00.000Z";
const AFTER_EXPIRY = "2026-11-25T13:00:00.001Z";

const request = (over: Partial<NewChangeRequest> = {}): NewChangeRequest => ({
  requestId: randomUUID(),
  action: "lift_kill_switch",
  tenantId: null,
  target: "planner",
  payloadJson: JSON.stringify({ reason: "" }),
  reason: "drill over",
  requestedBy: "alice",
  requestedAt: AT,
  expiresAt: EXPIRES,
  ...over,
});

export const changeRequestContract = defineStoreContract("change requests", (store) => {
  const engage = () => store().planner.setKillSwitch(true, "drill", AT, "alice");
  const lift = () => (p: PlannerStore) => p.setKillSwitch(false, "", LATER, "bob");

  it("a request is pending until a second operator approves it, and applies with the approval", async () => {
    await engage();
    const r = request();
    await store().createChangeRequest(r);
    expect(await store().getChangeRequest(r.requestId)).toMatchObject({
      status: "pending",
      requestedBy: "alice",
      decidedBy: null,
    });
    expect(await store().approveChangeRequest(r.requestId, "alice", LATER, lift())).toBe(
      "own_request",
    );
    expect((await store().planner.getKillSwitch())?.engaged).toBe(true);
    expect(await store().approveChangeRequest(r.requestId, "bob", LATER, lift())).toBe("approved");
    expect((await store().planner.getKillSwitch())?.engaged).toBe(false);
    expect(await store().getChangeRequest(r.requestId)).toMatchObject({
      status: "approved",
      decidedBy: "bob",
      decidedAt: LATER,
    });
    expect(await store().approveChangeRequest(r.requestId, "carol", LATER, lift())).toBe(
      "not_pending",
    );
    expect(await store().approveChangeRequest(randomUUID(), "bob", LATER, lift())).toBe(
      "not_pending",
    );
  });

  it("an expired or rejected request never applies; a failed change leaves it pending", async () => {
    await engage();
    const late = request();
    await store().createChangeRequest(late);
    expect(await store().approveChangeRequest(late.requestId, "bob", AFTER_EXPIRY, lift())).toBe(
      "expired",
    );
    const rejected = request();
    await store().createChangeRequest(rejected);
    expect(await store().rejectChangeRequest(rejected.requestId, "bob", LATER, "not yet")).toBe(
      true,
    );
    expect(await store().rejectChangeRequest(rejected.requestId, "bob", LATER, null)).toBe(false);
    expect(await store().approveChangeRequest(rejected.requestId, "bob", LATER, lift())).toBe(
      "not_pending",
    );
    const failing = request();
    await store().createChangeRequest(failing);
    await expect(
      store().approveChangeRequest(failing.requestId, "bob", LATER, async (p) => {
        await p.setKillSwitch(false, "", LATER, "bob");
        throw new Error("change failed");
      }),
    ).rejects.toThrow("change failed");
    expect((await store().planner.getKillSwitch())?.engaged).toBe(true);
    expect((await store().getChangeRequest(failing.requestId))?.status).toBe("pending");
    const pending = await store().listChangeRequests("pending", 10);
    expect(pending.map((p) => p.requestId).sort()).toEqual(
      [late.requestId, failing.requestId].sort(),
    );
    expect((await store().listChangeRequests(null, 10)).length).toBe(4);
  });

  it("of concurrent approvals exactly one applies", async () => {
    const r = request({ action: "enforce_healing", tenantId: "clinic-a", target: "clinic-a" });
    await store().createChangeRequest(r);
    let applied = 0;
    const outcomes = await Promise.all(
      ["bob", "carol", "dave", "erin"].map((who) =>
        store().approveChangeRequest(r.requestId, who, LATER, async (p) => {
          applied++;
          await p.putSitePolicy("clinic-a", "{}", LATER, who);
        }),
      ),
    );
    expect(outcomes.filter((o) => o === "approved")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "not_pending")).toHaveLength(3);
    expect(applied).toBe(1);
  });
});
