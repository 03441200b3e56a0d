import { expect, it } from "vitest";
import { defineStoreContract } from "./contract-kit.ts";
import type { NewVaultObject } from "./port.ts";

export const vaultContract = defineStoreContract("evidence vault", (store) => {
  const at = "2026-11-25T12:00:00.000Z";
  const h = (c: string) => c.repeat(64);

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
    expect(await store().insertCheckpoint(cp(2), cpObject(2))).toBe(true);
    expect(await store().insertCheckpoint(cp(3), cpObject(3))).toBe(true);
    // A second instance racing for the same size loses, and queues nothing.
    expect(await store().insertCheckpoint(cp(3), cpObject(99))).toBe(false);
    expect((await store().latestCheckpoint("clinic-a", "a-01"))?.treeSize).toBe(3);
    expect(await store().latestCheckpoint("clinic-b", "a-01")).toBeUndefined();
    expect(
      (await store().listCheckpoints("clinic-a", "a-01", 0, 2)).map((c) => c.checkpointJson),
    ).toEqual(['{"tree_size":2}']);
    const keys = (await store().listVaultObjects("clinic-a", "a-01")).map((o) => o.objectKey);
    expect(keys).toEqual(["cp-2", "cp-3"]);
  });

  it("moves the segment cursor by compare-and-swap only", async () => {
    expect(await store().segmentCursor("clinic-a", "a-01")).toBe(0);
    expect(await store().queueSegment(object("seg-1", 1, 2))).toBe(true);
    expect(await store().queueSegment(object("seg-1b", 1, 2))).toBe(false);
    expect(await store().queueSegment(object("seg-x", 2, 3))).toBe(false);
    expect(await store().segmentCursor("clinic-a", "a-01")).toBe(2);
    expect(await store().queueSegment(object("seg-2", 3, 3))).toBe(true);
    expect(await store().segmentCursor("clinic-a", "a-01")).toBe(3);
    expect(await store().segmentCursor("clinic-b", "b-01")).toBe(0);
  });

  it("retries due objects until archived, recording version and retention", async () => {
    const due = await store().dueVaultObjects(at, 10);
    expect(due.map((o) => o.objectKey).sort()).toEqual(["cp-2", "cp-3", "seg-1", "seg-2"]);
    await store().markVaultFailed("seg-1", "connection refused", "2026-11-25T12:05:00.000Z");
    expect((await store().dueVaultObjects(at, 10)).map((o) => o.objectKey)).not.toContain("seg-1");
    const later = await store().dueVaultObjects("2026-11-25T12:05:00.000Z", 10);
    const seg1 = later.find((o) => o.objectKey === "seg-1");
    expect(seg1).toMatchObject({
      attempts: 1,
      lastError: "connection refused",
      status: "pending",
    });
    await store().markVaultArchived("seg-1", {
      archive: "s3",
      versionId: "v-1",
      retainUntil: "2032-11-25T12:00:00.000Z",
      archivedAt: at,
    });
    // A late failure report never un-archives an object.
    await store().markVaultFailed("seg-1", "late", "2026-11-25T12:06:00.000Z");
    const all = await store().listVaultObjects("clinic-a", "a-01");
    expect(all.find((o) => o.objectKey === "seg-1")).toMatchObject({
      status: "archived",
      versionId: "v-1",
      archive: "s3",
      retainUntil: "2032-11-25T12:00:00.000Z",
      attempts: 1,
      lastError: null,
    });
    expect((await store().dueVaultObjects("2027-01-01T00:00:00.000Z", 10)).length).toBe(3);
    expect(await store().listVaultObjects("clinic-b", "b-01")).toEqual([]);
  });
});
