import { expect, it } from "vitest";
import { AT, defineStoreContract } from "./contract-kit.ts";
import type { PacketRecord } from "./port.ts";

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
