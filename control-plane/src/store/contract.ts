import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import { plannerStoreContract } from "./planner/contract.ts";
import type { EnrollmentClaim, Store } from "./port.ts";

/**
 * The one contract both adapters pass (CONVENTIONS.md rule 8). `open` yields a migrated,
 * empty store; `cleanup` removes it.
 */
export function storeContract(
  name: string,
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const at = "2026-11-25T12:00:00.000Z";
    const settings = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 };
    const claim: EnrollmentClaim = {
      evidencePublicKey: "k".repeat(44),
      evidenceKeyFingerprint: "f".repeat(64),
      csrPem: "csr",
      hostname: "box",
      agentVersion: "0.1.0",
    };

    beforeAll(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
      await store.migrate(); // idempotent
      for (const tenantId of ["clinic-a", "clinic-b"]) {
        await store.upsertTenant({
          tenantId,
          caCertPem: "ca",
          caKeySealed: "sealed",
          retentionDays: 2192,
        });
      }
    });
    afterAll(async () => {
      await store.close();
      await cleanup();
    });

    const register = (
      tenantId: string,
      applianceId: string,
      macs: string[],
      tokenHash: string | null,
    ) =>
      store.registerAppliance({
        tenantId,
        applianceId,
        macs,
        settings,
        tokenHash,
        tokenExpiresAt: tokenHash ? "2026-12-01T00:00:00.000Z" : null,
        createdAt: at,
      });

    it("stores tenants and refuses a second registration of one appliance id", async () => {
      expect((await store.getTenant("clinic-a"))?.retentionDays).toBe(2192);
      expect(await register("clinic-a", "a-01", ["02:00:00:00:00:01"], "1".repeat(64))).toBe(true);
      expect(await register("clinic-a", "a-01", ["02:00:00:00:00:09"], null)).toBe(false);
      const a = await store.getAppliance("clinic-a", "a-01");
      expect(a).toMatchObject({ status: "registered", orderSeq: 0, evidenceHead: GENESIS_HEAD });
      expect(a?.settings).toEqual(settings);
    });

    it("finds enrollable registrations by MAC and by token hash", async () => {
      await register("clinic-b", "b-01", ["02:00:00:00:00:02"], null);
      const byMac = await store.findEnrollableByMac(["02:00:00:00:00:02", "02:00:00:00:00:77"]);
      expect(byMac.map((r) => r.applianceId)).toEqual(["b-01"]);
      expect((await store.findByTokenHash("1".repeat(64)))?.applianceId).toBe("a-01");
      expect(await store.findByTokenHash("2".repeat(64))).toBeUndefined();
    });

    it("activates with a token exactly once", async () => {
      const enrol = { ...claim, certPem: "cert", certFingerprint: "c".repeat(64), at };
      expect(await store.activate("clinic-a", "a-01", enrol, true)).toBe(true);
      expect(
        await store.activate(
          "clinic-a",
          "a-01",
          { ...enrol, certFingerprint: "d".repeat(64) },
          true,
        ),
      ).toBe(false);
      const a = await store.findByCertFingerprint("c".repeat(64));
      expect(a).toMatchObject({ tenantId: "clinic-a", status: "active", tokenUsedAt: at });
      expect(await store.findEnrollableByMac(["02:00:00:00:00:01"])).toEqual([]);
    });

    it("goes pending → approved → active only with the presented fingerprint", async () => {
      expect(await store.setPending("clinic-b", "b-01", claim)).toBe(true);
      expect(await store.approve("clinic-b", "b-01", "e".repeat(64))).toBe(false);
      const enrol = { ...claim, certPem: "cert", certFingerprint: "b".repeat(64), at };
      expect(await store.activate("clinic-b", "b-01", enrol, false)).toBe(false);
      expect(await store.approve("clinic-b", "b-01", claim.evidenceKeyFingerprint)).toBe(true);
      expect(await store.activate("clinic-b", "b-01", enrol, false)).toBe(true);
      expect(await store.setPending("clinic-b", "b-01", claim)).toBe(false);
    });

    it("allocates consecutive order sequence numbers per appliance, scoped by tenant", async () => {
      const order = (runbookId: string) => ({
        orderId: randomUUID(),
        runbookId,
        params: { unit: "x" },
        tier: "L3" as const,
        issuedAt: at,
        expiresAt: "2026-11-25T13:00:00.000Z",
      });
      const created = await Promise.all(
        [1, 2, 3].map(() => store.createOrder("clinic-a", "a-01", order("RB-X-001-a"))),
      );
      expect(created.map((o) => o.seq).sort()).toEqual([1, 2, 3]);
      await store.createOrder("clinic-b", "b-01", order("RB-X-001-b"));
      const after1 = await store.ordersAfter("clinic-a", "a-01", 1, 32);
      expect(after1.map((o) => o.seq)).toEqual([2, 3]);
      expect((await store.ordersAfter("clinic-b", "a-01", 0, 32)).length).toBe(0);
      expect((await store.getAppliance("clinic-a", "a-01"))?.orderSeq).toBe(3);
      const first = created.find((o) => o.seq === 1);
      if (!first) throw new Error("no order 1");
      await store.markDelivered("clinic-a", "a-01", [first.orderId]);
      expect((await store.getOrder("clinic-a", first.orderId))?.status).toBe("delivered");
      expect(await store.getOrder("clinic-b", first.orderId)).toBeUndefined();
      expect(await store.setOrderResult("clinic-b", "b-01", first.orderId, "succeeded", {})).toBe(
        false,
      );
      expect(
        await store.setOrderResult("clinic-a", "a-01", first.orderId, "succeeded", { ok: 1 }),
      ).toBe(true);
      expect(await store.getOrder("clinic-a", first.orderId)).toMatchObject({
        status: "succeeded",
        result: { ok: 1 },
      });
      expect(await store.expireOrders("2026-11-25T14:00:00.000Z")).toBeGreaterThanOrEqual(2);
    });

    it("appends evidence only on the current head (compare-and-swap)", async () => {
      const rows = [1, 2, 3].map((seq) => ({
        seq,
        hash: `${seq}`.repeat(64),
        prevHash: `${seq - 1}`.repeat(64),
        bundleJson: `{"seq":${seq}}`,
      }));
      expect(
        await store.appendEvidence("clinic-a", "a-01", GENESIS_HEAD, rows.slice(0, 2), at),
      ).toBe(true);
      expect(
        await store.appendEvidence("clinic-a", "a-01", GENESIS_HEAD, rows.slice(0, 2), at),
      ).toBe(false);
      expect(
        await store.appendEvidence(
          "clinic-a",
          "a-01",
          { seq: 2, hash: "2".repeat(64) },
          rows.slice(2),
          at,
        ),
      ).toBe(true);
      expect((await store.getAppliance("clinic-a", "a-01"))?.evidenceHead).toEqual({
        seq: 3,
        hash: "3".repeat(64),
      });
      expect([...(await store.evidenceHashes("clinic-a", "a-01", 2, 3)).keys()]).toEqual([2, 3]);
      expect((await store.evidenceHashes("clinic-b", "a-01", 1, 3)).size).toBe(0);
      expect((await store.listEvidence("clinic-a", "a-01", 1, 10)).map((r) => r.seq)).toEqual([
        2, 3,
      ]);
    });

    it("keeps alerts and incidents per tenant; an incident id is idempotent", async () => {
      await store.recordAlert({
        tenantId: "clinic-a",
        applianceId: "a-01",
        code: "evidence_fork",
        detail: "d",
        createdAt: at,
      });
      expect((await store.listAlerts("clinic-a")).map((a) => a.code)).toEqual(["evidence_fork"]);
      expect(await store.listAlerts("clinic-b")).toEqual([]);
      const id = randomUUID();
      expect(await store.recordIncident("clinic-a", "a-01", id, "{}", at)).toBe("created");
      expect(await store.recordIncident("clinic-a", "a-01", id, "{}", at)).toBe("duplicate");
      expect(await store.recordIncident("clinic-a", "a-01", id, '{"other":1}', at)).toBe(
        "conflict",
      );
      // Another tenant's appliance using the same id neither sees nor disturbs tenant A's.
      expect(await store.recordIncident("clinic-b", "b-01", id, "{}", at)).toBe("created");
      expect((await store.listIncidents("clinic-a")).length).toBe(1);
      expect((await store.listIncidents("clinic-b")).length).toBe(1);
    });

    it("revokes", async () => {
      expect(await store.revoke("clinic-b", "b-01", at)).toBe(true);
      expect(await store.revoke("clinic-b", "b-01", at)).toBe(false);
      expect((await store.findByCertFingerprint("b".repeat(64)))?.status).toBe("revoked");
    });

    it("keeps admin tokens, operators and sessions", async () => {
      await store.addAdminToken("a".repeat(64), "init", at);
      expect((await store.findAdminToken("a".repeat(64)))?.label).toBe("init");
      expect(await store.findAdminToken("b".repeat(64))).toBeUndefined();
      const op = {
        operatorId: randomUUID(),
        username: "alice",
        passwordHash: "h",
        failedAttempts: 0,
        lockedUntil: null,
      };
      expect(await store.createOperator(op, at)).toBe(true);
      expect(await store.createOperator({ ...op, operatorId: randomUUID() }, at)).toBe(false);
      await store.setOperatorLoginState(op.operatorId, 3, at);
      expect(await store.getOperatorByName("alice")).toMatchObject({
        failedAttempts: 3,
        lockedUntil: at,
      });
      await store.createSession({
        idHash: "s".repeat(64),
        operatorId: op.operatorId,
        csrfHash: "x",
        expiresAt: at,
      });
      expect((await store.getSession("s".repeat(64)))?.operatorId).toBe(op.operatorId);
      await store.deleteSession("s".repeat(64));
      expect(await store.getSession("s".repeat(64))).toBeUndefined();
    });

    it("deletes only a registration that never enrolled, with its MACs", async () => {
      expect(await register("clinic-a", "a-del", ["02:00:00:00:0d:01"], "3".repeat(64))).toBe(true);
      expect(await store.deleteRegistration("clinic-b", "a-del")).toBe(false); // other tenant
      expect(await store.deleteRegistration("clinic-a", "a-del")).toBe(true);
      expect(await store.getAppliance("clinic-a", "a-del")).toBeUndefined();
      expect(await store.findEnrollableByMac(["02:00:00:00:0d:01"])).toEqual([]);
      expect(await store.findByTokenHash("3".repeat(64))).toBeUndefined();
      expect(await store.deleteRegistration("clinic-a", "a-del")).toBe(false);
      // a-01 is active: it stays (the admin route revokes it instead)
      expect(await store.deleteRegistration("clinic-a", "a-01")).toBe(false);
      expect((await store.getAppliance("clinic-a", "a-01"))?.status).not.toBe(undefined);
      // the id can be registered again afterwards
      expect(await register("clinic-a", "a-del", ["02:00:00:00:0d:02"], null)).toBe(true);
    });

    it("resets the one-time token only before enrollment", async () => {
      expect(await register("clinic-a", "a-tok", ["02:00:00:00:0e:01"], "4".repeat(64))).toBe(true);
      const later = "2026-12-24T00:00:00.000Z";
      expect(await store.resetEnrollmentToken("clinic-a", "a-tok", "5".repeat(64), later)).toBe(
        true,
      );
      expect(await store.findByTokenHash("4".repeat(64))).toBeUndefined();
      expect(await store.findByTokenHash("5".repeat(64))).toMatchObject({
        applianceId: "a-tok",
        tokenExpiresAt: later,
        tokenUsedAt: null,
      });
      expect(await store.resetEnrollmentToken("clinic-a", "a-01", "6".repeat(64), later)).toBe(
        false,
      );
      expect(await store.resetEnrollmentToken("clinic-b", "a-tok", "6".repeat(64), later)).toBe(
        false,
      );
    });

    it("chains the audit log without forks under concurrent writers", async () => {
      const seal = (seq: number, prev: string) => `${prev.slice(0, 8)}-${seq}`;
      await Promise.all(
        [1, 2, 3, 4].map((i) =>
          store.appendAudit(
            { at, actor: "t", action: `a${i}`, target: "x", detailJson: "{}" },
            seal,
          ),
        ),
      );
      const entries = await store.listAudit(0, 10);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      for (const [i, e] of entries.entries()) {
        expect(e.prevHash).toBe(i === 0 ? GENESIS_HEAD.hash : entries[i - 1]?.hash);
      }
    });

    it("keeps one packet record per tenant and month, replaced on regeneration", async () => {
      const files = { "packet.md": "a".repeat(64), "packet.pdf": "b".repeat(64) };
      await store.putPacket({
        tenantId: "clinic-a",
        month: "2026-10",
        generatedAt: at,
        files,
        counts: { bundles: 3 },
      });
      await store.putPacket({
        tenantId: "clinic-a",
        month: "2026-11",
        generatedAt: at,
        files,
        counts: { bundles: 1 },
      });
      await store.putPacket({
        tenantId: "clinic-a",
        month: "2026-10",
        generatedAt: "2026-11-26T00:00:00.000Z",
        files,
        counts: { bundles: 4 },
      });
      const list = await store.listPackets("clinic-a");
      expect(list.map((p) => p.month)).toEqual(["2026-11", "2026-10"]);
      expect(await store.getPacket("clinic-a", "2026-10")).toEqual({
        tenantId: "clinic-a",
        month: "2026-10",
        generatedAt: "2026-11-26T00:00:00.000Z",
        files,
        counts: { bundles: 4 },
      });
      expect(await store.listPackets("clinic-b")).toEqual([]);
      expect(await store.getPacket("clinic-b", "2026-10")).toBeUndefined();
    });

    plannerStoreContract(() => store, at);
  });
}
