import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER } from "./contract-kit.ts";

export const operatorContract = defineStoreContract("operators and sessions", (store) => {
  const at = AT;

  it("keeps named API tokens by hash with their role, scope, use and revocation", async () => {
    const s = store();
    await s.addAdminToken({ tokenHash: "a".repeat(64), label: "init" }, at);
    const init = await s.findAdminToken("a".repeat(64));
    expect(init).toMatchObject({ label: "init", role: "admin", scope: { tenants: "*" } });
    expect(init?.revokedAt).toBeNull();
    expect(await s.findAdminToken("b".repeat(64))).toBeUndefined();
    await s.addAdminToken(
      {
        tokenHash: "ab".repeat(32),
        label: "ci",
        role: "viewer",
        scope: { tenants: ["clinic-a"] },
        expiresAt: LATER,
        createdBy: "operator:rita",
      },
      at,
    );
    expect(await s.findAdminToken("ab".repeat(32))).toMatchObject({
      role: "viewer",
      scope: { tenants: ["clinic-a"] },
      expiresAt: LATER,
      createdBy: "operator:rita",
      lastUsedAt: null,
    });
    await s.touchAdminToken("ab".repeat(32), at);
    expect((await s.findAdminToken("ab".repeat(32)))?.lastUsedAt).toBe(at);
    expect((await s.listAdminTokens()).map((t) => t.label)).toEqual(["ci", "init"].sort());
    // Only the whole hash names a token (a prefix revokes nothing); a live one revokes once.
    expect(await s.revokeAdminToken("abab", LATER)).toBe(false);
    expect(await s.revokeAdminToken("ab".repeat(32), LATER)).toBe(true);
    expect(await s.revokeAdminToken("ab".repeat(32), LATER)).toBe(false);
    expect((await s.findAdminToken("ab".repeat(32)))?.revokedAt).toBe(LATER);
  });

  it("keeps a sealed TOTP secret and accepts each time step once, in order", async () => {
    const s = store();
    const id = randomUUID();
    await s.createOperator({ operatorId: id, username: "tara", passwordHash: "h" }, at);
    expect(await s.getOperator(id)).toMatchObject({ totpSealed: null, totpPendingSealed: null });
    await s.updateOperator(id, { totpPendingSealed: "v1.pending" });
    expect((await s.getOperator(id))?.totpPendingSealed).toBe("v1.pending");
    await s.updateOperator(id, { totpSealed: "v1.secret", totpPendingSealed: null });
    expect(await s.getOperator(id)).toMatchObject({
      totpSealed: "v1.secret",
      totpPendingSealed: null,
    });
    const step = 56_666_667;
    const claims = await Promise.all([s.claimTotpStep(id, step), s.claimTotpStep(id, step)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await s.claimTotpStep(id, step - 1)).toBe(false);
    expect(await s.claimTotpStep(id, step + 1)).toBe(true);
    // A new secret starts afresh.
    await s.updateOperator(id, { totpSealed: "v1.other" });
    expect(await s.claimTotpStep(id, step)).toBe(true);
  });

  it("changes an operator's role, scope, expiry, password and disabled state", async () => {
    const s = store();
    const id = randomUUID();
    await s.createOperator(
      {
        operatorId: id,
        username: "vic",
        passwordHash: "h",
        role: "viewer",
        scope: { tenants: ["t-1"] },
      },
      at,
    );
    expect(await s.getOperator(id)).toMatchObject({ role: "viewer", scope: { tenants: ["t-1"] } });
    expect(
      await s.updateOperator(id, {
        role: "auditor",
        scope: { tenants: ["t-2"], window: { from: at, to: LATER } },
        expiresAt: LATER,
        disabledAt: at,
        passwordHash: "h2",
      }),
    ).toBe(true);
    expect(await s.getOperator(id)).toMatchObject({
      role: "auditor",
      scope: { tenants: ["t-2"], window: { from: at, to: LATER } },
      expiresAt: LATER,
      disabledAt: at,
      passwordHash: "h2",
    });
    expect(await s.updateOperator(randomUUID(), { role: "admin" })).toBe(false);
    expect((await s.listOperators()).map((o) => o.username)).toContain("vic");
  });

  it("keeps operators with unique names and their sessions", async () => {
    const s = store();
    const op = { operatorId: randomUUID(), username: "alice", passwordHash: "h" };
    expect(await s.createOperator(op, at)).toBe(true);
    expect(await s.createOperator({ ...op, operatorId: randomUUID() }, at)).toBe(false);
    expect(await s.getOperatorByName("alice")).toEqual({
      ...op,
      role: "admin",
      scope: { tenants: "*" },
      expiresAt: null,
      disabledAt: null,
      totpSealed: null,
      totpPendingSealed: null,
    });
    expect((await s.getOperator(op.operatorId))?.username).toBe("alice");
    expect(await s.getOperator(randomUUID())).toBeUndefined();
    const session = (idHash: string) => ({
      idHash,
      operatorId: op.operatorId,
      csrfHash: "x",
      expiresAt: at,
      createdAt: at,
      lastSeenAt: at,
    });
    await s.createSession(session("s".repeat(64)));
    expect((await s.getSession("s".repeat(64)))?.operatorId).toBe(op.operatorId);
    await s.touchSession("s".repeat(64), LATER);
    expect((await s.getSession("s".repeat(64)))?.lastSeenAt).toBe(LATER);
    await s.deleteSession("s".repeat(64));
    expect(await s.getSession("s".repeat(64))).toBeUndefined();
    await s.createSession(session("1".repeat(64)));
    await s.createSession(session("2".repeat(64)));
    await s.createSession(session("3".repeat(64)));
    expect((await s.listSessions(op.operatorId)).map((x) => x.idHash[0])).toEqual(["1", "2", "3"]);
    expect(await s.deleteSessionsOf(op.operatorId, "2222")).toBe(1);
    expect(await s.deleteSessionsOf(op.operatorId)).toBe(2);
    expect(await s.listSessions(op.operatorId)).toEqual([]);
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
    await s.recordSignInFailure("other", "10.0.0.1", at, at);
    await s.recordSignInFailure("other", "10.0.0.2", at, at);
    expect(await s.clearSignInFailuresOf("other")).toBe(2);
    expect(await s.getSignInFailures("subj", "10.0.0.1")).toBeUndefined();
    expect(await s.pruneSignInFailures(LATER)).toBe(1);
    expect(await s.getSignInFailures("subj", "*")).toBeUndefined();
  });
});
