import { expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import { AT, defineStoreContract, withAppliances } from "./contract-kit.ts";

export const evidenceContract = defineStoreContract(
  "evidence and its chain",
  (store) => {
    const at = AT;
    const later = "2026-11-25T13:10:00.000Z";
    const h = (c: string) => c.repeat(64);
    const rows = [1, 2, 3].map((seq) => ({
      seq,
      hash: h(`${seq}`),
      prevHash: seq === 1 ? GENESIS_HEAD.hash : h(`${seq - 1}`),
      bundleJson: `{"seq":${seq}}`,
    }));

    it("appends evidence only on the current head (compare-and-swap)", async () => {
      const s = store();
      expect(await s.appendEvidence("clinic-a", "a-01", GENESIS_HEAD, rows.slice(0, 2), at)).toBe(
        true,
      );
      expect(await s.appendEvidence("clinic-a", "a-01", GENESIS_HEAD, rows.slice(0, 2), at)).toBe(
        false,
      );
      expect(
        await s.appendEvidence("clinic-a", "a-01", { seq: 2, hash: h("2") }, rows.slice(2), later),
      ).toBe(true);
      expect((await s.getAppliance("clinic-a", "a-01"))?.evidenceHead).toEqual({
        seq: 3,
        hash: h("3"),
      });
      expect([...(await s.evidenceHashes("clinic-a", "a-01", 2, 3)).keys()]).toEqual([2, 3]);
      expect((await s.evidenceHashes("clinic-b", "a-01", 1, 3)).size).toBe(0);
      expect(await s.listEvidence("clinic-a", "a-01", 1, 10)).toEqual(rows.slice(1));
      expect(await s.appendEvidence("clinic-a", "a-01", { seq: 3, hash: h("3") }, [], at)).toBe(
        true,
      );
    });

    it("lists evidence heads and rows for the archive, and seq ranges by receipt time", async () => {
      const s = store();
      expect(await s.listEvidenceHeads()).toEqual([
        { tenantId: "clinic-a", applianceId: "a-01", head: { seq: 3, hash: h("3") } },
      ]);
      const archived = await s.listEvidenceForArchive("clinic-a", "a-01", 1, 10);
      expect(archived.map((r) => [r.seq, r.receivedAt])).toEqual([
        [2, at],
        [3, later],
      ]);
      expect(await s.listEvidenceForArchive("clinic-b", "a-01", 0, 10)).toEqual([]);
      expect(await s.evidenceSeqRange("clinic-a", "a-01", at, "2026-11-25T13:00:00.000Z")).toEqual({
        first: 1,
        last: 2,
      });
      expect(
        await s.evidenceSeqRange("clinic-b", "b-01", at, "2026-11-26T00:00:00.000Z"),
      ).toBeUndefined();
    });
  },
  withAppliances,
);
