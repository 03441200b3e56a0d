import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import type { NewVaultObject, Store } from "./port.ts";

/**
 * The vault part of the Store contract (issue 7, migration 0002_vault), run by both adapters
 * beside storeContract: checkpoints, the segment cursor and the WORM outbox.
 */
export function vaultStoreContract(
  name: string,
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
): void {
  describe(`Store contract (vault): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const at = "2026-11-25T12:00:00.000Z";
    const h = (c: string) => c.repeat(64);

    beforeAll(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
      for (const [tenantId, applianceId] of [
        ["clinic-a", "a-01"],
        ["clinic-b", "b-01"],
      ] as const) {
        await store.upsertTenant({
          tenantId,
          caCertPem: "ca",
          caKeySealed: "s",
          retentionDays: 2192,
        });
        await store.registerAppliance({
          tenantId,
          applianceId,
          macs: [applianceId === "a-01" ? "02:00:00:00:0a:01" : "02:00:00:00:0b:01"],
          settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
          tokenHash: null,
          tokenExpiresAt: null,
          createdAt: at,
        });
      }
      const rows = [1, 2, 3].map((seq) => ({
        seq,
        hash: h(String(seq)),
        prevHash: seq === 1 ? GENESIS_HEAD.hash : h(String(seq - 1)),
        bundleJson: `{"seq":${seq}}`,
      }));
      await store.appendEvidence("clinic-a", "a-01", GENESIS_HEAD, rows.slice(0, 2), at);
      await store.appendEvidence(
        "clinic-a",
        "a-01",
        { seq: 2, hash: h("2") },
        rows.slice(2),
        "2026-11-25T13:10:00.000Z",
      );
    });
    afterAll(async () => {
      await store.close();
      await cleanup();
    });

    const object = (key: string, first: number, last: number): NewVaultObject => ({
      objectKey: key,
      tenantId: "clinic-a",
      applianceId: "a-01",
      kind: "segment",
      firstSeq: first,
      lastSeq: last,
      sha256: h("e"),
      byteLength: 10,
      createdAt: at,
    });

    it("lists evidence heads and rows for the archive, and seq ranges by receipt time", async () => {
      expect(await store.listEvidenceHeads()).toEqual([
        { tenantId: "clinic-a", applianceId: "a-01", head: { seq: 3, hash: h("3") } },
      ]);
      const rows = await store.listEvidenceForArchive("clinic-a", "a-01", 1, 10);
      expect(rows.map((r) => [r.seq, r.receivedAt])).toEqual([
        [2, at],
        [3, "2026-11-25T13:10:00.000Z"],
      ]);
      expect(await store.listEvidenceForArchive("clinic-b", "a-01", 0, 10)).toEqual([]);
      expect(
        await store.evidenceSeqRange("clinic-a", "a-01", at, "2026-11-25T13:00:00.000Z"),
      ).toEqual({ first: 1, last: 2 });
      expect(
        await store.evidenceSeqRange("clinic-b", "b-01", at, "2026-11-26T00:00:00.000Z"),
      ).toBeUndefined();
    });

    it("keeps one checkpoint per tree size, with its outbox object, per appliance", async () => {
      const cp = (size: number) => ({
        tenantId: "clinic-a",
        applianceId: "a-01",
        treeSize: size,
        rootHash: h(String(size)),
        issuedAt: at,
        checkpointJson: `{"tree_size":${size}}`,
      });
      const cpObject = (size: number) => ({
        ...object(`cp-${size}`, size, size),
        kind: "checkpoint" as const,
      });
      expect(await store.insertCheckpoint(cp(2), cpObject(2))).toBe(true);
      expect(await store.insertCheckpoint(cp(3), cpObject(3))).toBe(true);
      // A second instance racing for the same size loses, and queues nothing.
      expect(await store.insertCheckpoint(cp(3), cpObject(99))).toBe(false);
      expect((await store.latestCheckpoint("clinic-a", "a-01"))?.treeSize).toBe(3);
      expect(await store.latestCheckpoint("clinic-b", "a-01")).toBeUndefined();
      expect(
        (await store.listCheckpoints("clinic-a", "a-01", 0, 2)).map((c) => c.checkpointJson),
      ).toEqual(['{"tree_size":2}']);
      const keys = (await store.listVaultObjects("clinic-a", "a-01")).map((o) => o.objectKey);
      expect(keys).toEqual(["cp-2", "cp-3"]);
    });

    it("moves the segment cursor by compare-and-swap only", async () => {
      expect(await store.segmentCursor("clinic-a", "a-01")).toBe(0);
      expect(await store.queueSegment(object("seg-1", 1, 2))).toBe(true);
      expect(await store.queueSegment(object("seg-1b", 1, 2))).toBe(false);
      expect(await store.queueSegment(object("seg-x", 2, 3))).toBe(false);
      expect(await store.segmentCursor("clinic-a", "a-01")).toBe(2);
      expect(await store.queueSegment(object("seg-2", 3, 3))).toBe(true);
      expect(await store.segmentCursor("clinic-a", "a-01")).toBe(3);
      expect(await store.segmentCursor("clinic-b", "b-01")).toBe(0);
    });

    it("retries due objects until archived, recording version and retention", async () => {
      const due = await store.dueVaultObjects(at, 10);
      expect(due.map((o) => o.objectKey).sort()).toEqual(["cp-2", "cp-3", "seg-1", "seg-2"]);
      await store.markVaultFailed("seg-1", "connection refused", "2026-11-25T12:05:00.000Z");
      expect((await store.dueVaultObjects(at, 10)).map((o) => o.objectKey)).not.toContain("seg-1");
      const later = await store.dueVaultObjects("2026-11-25T12:05:00.000Z", 10);
      const seg1 = later.find((o) => o.objectKey === "seg-1");
      expect(seg1).toMatchObject({
        attempts: 1,
        lastError: "connection refused",
        status: "pending",
      });
      await store.markVaultArchived("seg-1", {
        archive: "s3",
        versionId: "v-1",
        retainUntil: "2032-11-25T12:00:00.000Z",
        archivedAt: at,
      });
      // A late failure report never un-archives an object.
      await store.markVaultFailed("seg-1", "late", "2026-11-25T12:06:00.000Z");
      const all = await store.listVaultObjects("clinic-a", "a-01");
      expect(all.find((o) => o.objectKey === "seg-1")).toMatchObject({
        status: "archived",
        versionId: "v-1",
        archive: "s3",
        retainUntil: "2032-11-25T12:00:00.000Z",
        attempts: 1,
        lastError: null,
      });
      expect((await store.dueVaultObjects("2027-01-01T00:00:00.000Z", 10)).length).toBe(3);
      expect(await store.listVaultObjects("clinic-b", "b-01")).toEqual([]);
    });
  });
}
