import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract } from "./contract-kit.ts";

export const operatorContract = defineStoreContract("operators and sessions", (store) => {
  const at = AT;

  it("keeps admin tokens by hash", async () => {
    await store().addAdminToken("a".repeat(64), "init", at);
    expect((await store().findAdminToken("a".repeat(64)))?.label).toBe("init");
    expect(await store().findAdminToken("b".repeat(64))).toBeUndefined();
  });

  it("keeps operators with unique names, their lockout state and sessions", async () => {
    const s = store();
    const op = {
      operatorId: randomUUID(),
      username: "alice",
      passwordHash: "h",
      failedAttempts: 0,
      lockedUntil: null,
    };
    expect(await s.createOperator(op, at)).toBe(true);
    expect(await s.createOperator({ ...op, operatorId: randomUUID() }, at)).toBe(false);
    await s.setOperatorLoginState(op.operatorId, 3, at);
    expect(await s.getOperatorByName("alice")).toMatchObject({
      failedAttempts: 3,
      lockedUntil: at,
    });
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
});
