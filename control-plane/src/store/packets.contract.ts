import { expect, it } from "vitest";
import { AT, defineStoreContract, LATER } from "./contract-kit.ts";
import type { PacketJobRecord, PacketRecord } from "./port.ts";

export const packetContract = defineStoreContract("packets", (store) => {
  const files = { "packet.md": "a".repeat(64), "packet.pdf": "b".repeat(64) };
  const packet = (month: string, version: number, generatedAt = AT): PacketRecord => ({
    tenantId: "clinic-a",
    month,
    version,
    generatedAt,
    requestedBy: "alice",
    reason: version === 1 ? null : `correction ${version}`,
    manifestSha256: String(version).repeat(64),
    previousManifestSha256: version === 1 ? null : String(version - 1).repeat(64),
    files,
    counts: { bundles: version },
  });

  it("keeps every version of a month; a version number is taken once", async () => {
    const s = store();
    expect(await s.addPacketVersion(packet("2026-10", 1))).toBe(true);
    expect(await s.addPacketVersion(packet("2026-11", 1))).toBe(true);
    expect(await s.addPacketVersion(packet("2026-10", 2, "2026-11-26T00:00:00.000Z"))).toBe(true);
    // A concurrent regeneration that read the same latest version loses and keeps nothing.
    expect(await s.addPacketVersion({ ...packet("2026-10", 2), reason: "loser" })).toBe(false);
    const list = await s.listPackets("clinic-a");
    expect(list.map((p) => `${p.month} v${p.version}`)).toEqual([
      "2026-11 v1",
      "2026-10 v2",
      "2026-10 v1",
    ]);
    expect(await s.getPacket("clinic-a", "2026-10")).toEqual(
      packet("2026-10", 2, "2026-11-26T00:00:00.000Z"),
    );
    expect(await s.getPacket("clinic-a", "2026-10", 1)).toEqual(packet("2026-10", 1));
    expect(await s.getPacket("clinic-a", "2026-10", 3)).toBeUndefined();
    expect(await s.listPackets("clinic-b")).toEqual([]);
    expect(await s.getPacket("clinic-b", "2026-10")).toBeUndefined();
  });
});

export const packetJobContract = defineStoreContract("packet jobs", (store) => {
  const job = (jobId: string, createdAt: string): PacketJobRecord => ({
    jobId,
    tenantId: "clinic-a",
    month: "2026-10",
    requestedBy: "alice",
    reason: null,
    status: "queued",
    progress: 0,
    error: null,
    rerunOf: null,
    version: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
  });
  const A = "00000000-0000-4000-8000-00000000000a";
  const B = "00000000-0000-4000-8000-00000000000b";

  it("moves a job queued → running once, keeps its progress, its version or its error", async () => {
    const s = store();
    await s.createPacketJob(job(A, AT));
    await s.createPacketJob({ ...job(B, LATER), rerunOf: A, reason: "again" });
    expect((await s.listQueuedPacketJobs(10)).map((j) => j.jobId)).toEqual([A, B]);
    expect(await s.startPacketJob(A, LATER)).toBe(true);
    expect(await s.startPacketJob(A, LATER)).toBe(false);
    await s.setPacketJobProgress(A, 420.4);
    expect(await s.getPacketJob("clinic-a", A)).toMatchObject({
      status: "running",
      progress: 420,
      startedAt: LATER,
    });
    await s.finishPacketJob(A, { status: "failed", error: "disk full" }, LATER);
    expect(await s.startPacketJob(B, LATER)).toBe(true);
    await s.finishPacketJob(B, { status: "done", version: 3 }, LATER);
    // A finished job is not moved again.
    await s.finishPacketJob(B, { status: "failed", error: "late" }, LATER);
    await s.setPacketJobProgress(B, 5);
    expect(await s.getPacketJob("clinic-a", A)).toMatchObject({
      status: "failed",
      error: "disk full",
      progress: 420,
      finishedAt: LATER,
    });
    expect(await s.getPacketJob("clinic-a", B)).toEqual({
      ...job(B, LATER),
      rerunOf: A,
      reason: "again",
      status: "done",
      progress: 1000,
      version: 3,
      startedAt: LATER,
      finishedAt: LATER,
    });
    expect((await s.listPacketJobs("clinic-a", 10)).map((j) => j.jobId)).toEqual([B, A]);
    expect(await s.listQueuedPacketJobs(10)).toEqual([]);
    expect(await s.getPacketJob("clinic-b", A)).toBeUndefined();
    expect(await s.listPacketJobs("clinic-b", 10)).toEqual([]);
  });

  it("keeps the highest verified head of an appliance", async () => {
    const s = store();
    expect(await s.getVerifiedHead("clinic-a", "a-01")).toBeUndefined();
    const head = (seq: number) => ({
      tenantId: "clinic-a",
      applianceId: "a-01",
      seq,
      headJson: `{"seq":${seq}}`,
    });
    await s.putVerifiedHead(head(5));
    await s.putVerifiedHead(head(9));
    await s.putVerifiedHead(head(7));
    expect(await s.getVerifiedHead("clinic-a", "a-01")).toEqual(head(9));
    expect(await s.getVerifiedHead("clinic-b", "a-01")).toBeUndefined();
  });
});
