import { expect, it } from "vitest";
import { AT, defineStoreContract } from "./contract-kit.ts";

export const packetContract = defineStoreContract("packets", (store) => {
  it("keeps one packet record per tenant and month, replaced on regeneration", async () => {
    const s = store();
    const files = { "packet.md": "a".repeat(64), "packet.pdf": "b".repeat(64) };
    const packet = (month: string, generatedAt: string, bundles: number) => ({
      tenantId: "clinic-a",
      month,
      generatedAt,
      files,
      counts: { bundles },
    });
    await s.putPacket(packet("2026-10", AT, 3));
    await s.putPacket(packet("2026-11", AT, 1));
    await s.putPacket(packet("2026-10", "2026-11-26T00:00:00.000Z", 4));
    const list = await s.listPackets("clinic-a");
    expect(list.map((p) => p.month)).toEqual(["2026-11", "2026-10"]);
    expect(await s.getPacket("clinic-a", "2026-10")).toEqual(
      packet("2026-10", "2026-11-26T00:00:00.000Z", 4),
    );
    expect(await s.listPackets("clinic-b")).toEqual([]);
    expect(await s.getPacket("clinic-b", "2026-10")).toBeUndefined();
  });
});
