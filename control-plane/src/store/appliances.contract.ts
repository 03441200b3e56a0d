import { expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import { AT, CLAIM, defineStoreContract, register, SETTINGS } from "./contract-kit.ts";

export const applianceContract = defineStoreContract("appliances and enrollment", (store) => {
  const at = AT;
  const claim = CLAIM;

  it("refuses a second registration of one appliance id", async () => {
    expect(await register(store(), "clinic-a", "a-01", ["02:00:00:00:00:01"], "1".repeat(64))).toBe(
      true,
    );
    expect(await register(store(), "clinic-a", "a-01", ["02:00:00:00:00:09"], null)).toBe(false);
    const a = await store().getAppliance("clinic-a", "a-01");
    expect(a).toMatchObject({ status: "registered", orderSeq: 0, evidenceHead: GENESIS_HEAD });
    expect(a?.settings).toEqual(SETTINGS);
  });

  it("finds enrollable registrations by MAC and by token hash", async () => {
    await register(store(), "clinic-b", "b-01", ["02:00:00:00:00:02"], null);
    const byMac = await store().findEnrollableByMac(["02:00:00:00:00:02", "02:00:00:00:00:77"]);
    expect(byMac.map((r) => r.applianceId)).toEqual(["b-01"]);
    expect((await store().findByTokenHash("1".repeat(64)))?.applianceId).toBe("a-01");
    expect(await store().findByTokenHash("2".repeat(64))).toBeUndefined();
  });

  it("activates with a token exactly once", async () => {
    const enrol = { ...claim, certPem: "cert", certFingerprint: "c".repeat(64), at };
    expect(await store().activate("clinic-a", "a-01", enrol, true)).toBe(true);
    expect(
      await store().activate(
        "clinic-a",
        "a-01",
        { ...enrol, certFingerprint: "d".repeat(64) },
        true,
      ),
    ).toBe(false);
    const a = await store().findByCertFingerprint("c".repeat(64));
    expect(a).toMatchObject({ tenantId: "clinic-a", status: "active", tokenUsedAt: at });
    expect(await store().findEnrollableByMac(["02:00:00:00:00:01"])).toEqual([]);
  });

  it("goes pending → approved → active only with the presented fingerprint", async () => {
    expect(await store().setPending("clinic-b", "b-01", claim)).toBe(true);
    expect(await store().approve("clinic-b", "b-01", "e".repeat(64))).toBe(false);
    const enrol = { ...claim, certPem: "cert", certFingerprint: "b".repeat(64), at };
    expect(await store().activate("clinic-b", "b-01", enrol, false)).toBe(false);
    expect(await store().approve("clinic-b", "b-01", claim.evidenceKeyFingerprint)).toBe(true);
    expect(await store().activate("clinic-b", "b-01", enrol, false)).toBe(true);
    expect(await store().setPending("clinic-b", "b-01", claim)).toBe(false);
  });

  it("lists a tenant's appliances and records when one was last seen", async () => {
    await store().touch("clinic-a", "a-01", "2026-11-25T12:05:00.000Z");
    await store().touch("clinic-b", "a-01", "2026-11-25T12:09:00.000Z"); // no such appliance
    const list = await store().listAppliances("clinic-a");
    expect(list.map((a) => [a.applianceId, a.lastSeenAt])).toEqual([
      ["a-01", "2026-11-25T12:05:00.000Z"],
    ]);
    expect((await store().listAppliances("clinic-b")).map((a) => a.applianceId)).toEqual(["b-01"]);
  });

  it("revokes", async () => {
    expect(await store().revoke("clinic-b", "b-01", at)).toBe(true);
    expect(await store().revoke("clinic-b", "b-01", at)).toBe(false);
    expect((await store().findByCertFingerprint("b".repeat(64)))?.status).toBe("revoked");
  });

  it("deletes only a registration that never enrolled, with its MACs", async () => {
    expect(
      await register(store(), "clinic-a", "a-del", ["02:00:00:00:0d:01"], "3".repeat(64)),
    ).toBe(true);
    expect(await store().deleteRegistration("clinic-b", "a-del")).toBe(false); // other tenant
    expect(await store().deleteRegistration("clinic-a", "a-del")).toBe(true);
    expect(await store().getAppliance("clinic-a", "a-del")).toBeUndefined();
    expect(await store().findEnrollableByMac(["02:00:00:00:0d:01"])).toEqual([]);
    expect(await store().findByTokenHash("3".repeat(64))).toBeUndefined();
    expect(await store().deleteRegistration("clinic-a", "a-del")).toBe(false);
    // a-01 is active: it stays (the admin route revokes it instead)
    expect(await store().deleteRegistration("clinic-a", "a-01")).toBe(false);
    expect((await store().getAppliance("clinic-a", "a-01"))?.status).not.toBe(undefined);
    // the id can be registered again afterwards
    expect(await register(store(), "clinic-a", "a-del", ["02:00:00:00:0d:02"], null)).toBe(true);
  });

  it("resets the one-time token only before enrollment", async () => {
    expect(
      await register(store(), "clinic-a", "a-tok", ["02:00:00:00:0e:01"], "4".repeat(64)),
    ).toBe(true);
    const later = "2026-12-24T00:00:00.000Z";
    expect(await store().resetEnrollmentToken("clinic-a", "a-tok", "5".repeat(64), later)).toBe(
      true,
    );
    expect(await store().findByTokenHash("4".repeat(64))).toBeUndefined();
    expect(await store().findByTokenHash("5".repeat(64))).toMatchObject({
      applianceId: "a-tok",
      tokenExpiresAt: later,
      tokenUsedAt: null,
    });
    expect(await store().resetEnrollmentToken("clinic-a", "a-01", "6".repeat(64), later)).toBe(
      false,
    );
    expect(await store().resetEnrollmentToken("clinic-b", "a-tok", "6".repeat(64), later)).toBe(
      false,
    );
  });
});
