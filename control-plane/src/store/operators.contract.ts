import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER } from "./contract-kit.ts";

export const operatorContract = defineStoreContract("operators and sessions", (store) => {
  const at = AT;

  it("keeps admin tokens by hash", async () => {
    await store().addAdminToken("a".repeat(64), "init", at);
    expect((await store().findAdminToken("a".repeat(64)))?.label).toBe("init");
    expect(await store().findAdminToken("b".repeat(64))).toBeUndefined();
  });

  it("keeps operators with unique names and their sessions", async () => {
    const s = store();
    const op = { operatorId: randomUUID(), username: "alice", passwordHash: "h" };
    expect(await s.createOperator(op, at)).toBe(true);
    expect(await s.createOperator({ ...op, operatorId: randomUUID() }, at)).toBe(false);
    expect(await s.getOperatorByName("alice")).toEqual(op);
    expect((await s.getOperator(op.operatorId))?.username).toBe("alice");
    expect(await s.getOperator(randomUUID())).toBeUndefined();
    await s.createSession({
      idHash: "s".repeat(64),
      operatorId: op.operatorId,
      csrfHash: "x",
      expiresAt: at,
    });
    expect((await s.getSession("s".repeat(64)))?.operatorId).toBe(op.operatorId);
    await s.deleteSession("s".repeat(64));
    expect(await s.getSession("s".repeat(64))).toBeUndefined();
  });

  it("counts concurrent sign-in failures atomically, per subject and address, within a window", async () => {
    const s = store();
    const counts = await Promise.all(
      Array.from({ length: 10 }, () =>
        s.recordSignInFailure("subj", "10.0.0.1", at, "2026-11-25T11:00:00.000Z"),
      ),
    );
    // Ten concurrent failures count ten (a read-modify-write would lose some).
    expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await s.getSignInFailures("subj", "10.0.0.1")).toEqual({
      failures: 10,
      lastFailureAt: at,
    });
    expect(await s.getSignInFailures("subj", "10.0.0.2")).toBeUndefined();
    // A failure after the window starts counting again.
    expect(await s.recordSignInFailure("subj", "10.0.0.1", LATER, LATER)).toBe(1);
    expect(await s.recordSignInFailure("subj", "*", at, at)).toBe(1);
    await s.clearSignInFailures("subj", "10.0.0.1");
    expect(await s.getSignInFailures("subj", "10.0.0.1")).toBeUndefined();
    expect(await s.pruneSignInFailures(LATER)).toBe(1);
    expect(await s.getSignInFailures("subj", "*")).toBeUndefined();
  });
});
