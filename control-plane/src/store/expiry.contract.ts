import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { defineStoreContract, register } from "./contract-kit.ts";
import { EXPIRED_TOKEN } from "./expiry.ts";

export const expiryContract = defineStoreContract("expiry of short-lived rows", (store) => {
  const t = (h: number) => new Date(Date.UTC(2026, 10, 30, h)).toISOString();

  it("deletes sessions, token hashes, lapsed leases and old sign-in failures as the clock moves", async () => {
    const s = store();
    const operatorId = randomUUID();
    await s.createOperator({ operatorId, username: "expiry-op", passwordHash: "h" }, t(0));
    await s.createSession({ idHash: "e".repeat(64), operatorId, csrfHash: "x", expiresAt: t(2) });
    await s.createSession({ idHash: "f".repeat(64), operatorId, csrfHash: "x", expiresAt: t(9) });
    // register() gives the token an expiry of 2026-12-01T00:00Z.
    await register(s, "clinic-a", "exp-01", ["02:00:00:00:ee:01"], "1".repeat(64));
    await register(s, "clinic-a", "exp-02", ["02:00:00:00:ee:02"]);
    expect(await s.acquireLease("lapsing", "a", t(0), t(3))).toBe("acquired");
    expect(await s.acquireLease("done", "a", t(0), t(1))).toBe("acquired");
    expect(await s.releaseLease("done", "a", t(1), true)).toBe(true);
    await s.recordSignInFailure("subj", "10.9.9.9", t(1), t(0));

    // Before anything expired: nothing goes.
    expect(await s.deleteExpired(t(1), t(0))).toEqual({
      sessions: 0,
      enrollmentTokens: 0,
      leases: 0,
      signInFailures: 0,
    });
    expect(await s.getSession("e".repeat(64))).toBeDefined();

    // Three hours on: the first session, the lapsed lease and the old failure row.
    expect(await s.deleteExpired(t(3), t(2))).toEqual({
      sessions: 1,
      enrollmentTokens: 0,
      leases: 1,
      signInFailures: 1,
    });
    expect(await s.getSession("e".repeat(64))).toBeUndefined();
    expect(await s.getSession("f".repeat(64))).toBeDefined();
    expect(await s.getSignInFailures("subj", "10.9.9.9")).toBeUndefined();
    expect(await s.acquireLease("lapsing", "b", t(3), t(4))).toBe("acquired");
    // A completed lease marks a job done for good: it stays.
    expect(await s.acquireLease("done", "b", t(3), t(4))).toBe("completed");

    // Past the token's expiry: its hash goes, the registration stays a token registration.
    const later = "2026-12-01T00:00:00.000Z";
    expect(await s.deleteExpired(later, t(2))).toMatchObject({ sessions: 1, enrollmentTokens: 1 });
    expect(await s.findByTokenHash("1".repeat(64))).toBeUndefined();
    const reg = await s.getAppliance("clinic-a", "exp-01");
    expect(reg?.tokenHash).toBe(EXPIRED_TOKEN);
    expect((await s.getAppliance("clinic-a", "exp-02"))?.tokenHash).toBeNull();
    expect((await s.deleteExpired(later, t(2))).enrollmentTokens).toBe(0);
  });
});
