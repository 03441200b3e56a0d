import { expect, it } from "vitest";
import type { ChainHead } from "#protocol";
import { AT, defineStoreContract, LATER, withAppliances } from "./contract-kit.ts";
import type { EvidenceRow, StoredCosignature } from "./port.ts";

export const cosignatureContract = defineStoreContract(
  "cosignatures",
  (store) => {
    // Bundle seq n has the hash n in hex; seq 0 is the genesis head (all zeros).
    const hash = (seq: number) => seq.toString(16).padStart(64, "0");
    const headAt = (seq: number): ChainHead => ({ seq, hash: hash(seq) });
    const bundles = (from: number, to: number): EvidenceRow[] =>
      Array.from({ length: to - from + 1 }, (_, i) => ({
        seq: from + i,
        hash: hash(from + i),
        prevHash: hash(from + i - 1),
        bundleJson: `{"seq":${from + i}}`,
      }));
    const row = (
      evidenceSeq: number,
      treeSize: number,
      tenantId = "clinic-a",
      applianceId = "a-01",
    ): StoredCosignature => ({
      tenantId,
      applianceId,
      evidenceSeq,
      treeSize,
      rootHash: String(treeSize % 10).repeat(64),
      cosignature: `— msp-compliance/appliance/${tenantId}/${applianceId} ${"A".repeat(100)}==`,
      receivedAt: AT,
    });
    const append = (
      from: number,
      to: number,
      cosignatures: readonly StoredCosignature[],
      rows = bundles(from, to),
    ) => store().appendEvidence("clinic-a", "a-01", headAt(from - 1), rows, AT, cosignatures);
    /** What is stored of a-01: its head, which of `from..to` are stored, all its cosignatures. */
    const stored = async (from: number, to: number) => ({
      head: (await store().getAppliance("clinic-a", "a-01"))?.evidenceHead.seq,
      bundles: [...(await store().evidenceHashes("clinic-a", "a-01", from, to)).keys()],
      cosignatures: (await store().listCosignatures("clinic-a", "a-01", 0, 1000)).map(
        (c) => c.evidenceSeq,
      ),
    });

    it("stores each cosignature with the bundle that carries it, listed by checkpoint in chain order", async () => {
      expect(await append(1, 61, [row(21, 20), row(41, 40), row(61, 60)])).toBe(true);
      expect(
        await store().appendEvidence("clinic-b", "b-01", headAt(0), bundles(1, 21), AT, [
          row(21, 20, "clinic-b", "b-01"),
        ]),
      ).toBe(true);
      expect(await store().listCosignatures("clinic-a", "a-01", 20, 40)).toEqual([
        row(21, 20),
        row(41, 40),
      ]);
      expect(await store().listCosignatures("clinic-a", "a-01", 0, 1000)).toHaveLength(3);
      expect(await store().listCosignatures("clinic-b", "b-01", 0, 1000)).toEqual([
        row(21, 20, "clinic-b", "b-01"),
      ]);
      expect(await store().listCosignatures("clinic-a", "b-01", 0, 1000)).toEqual([]);
    });

    it("writes no cosignature for an append that lost the compare-and-swap", async () => {
      // The same range again, on a head that is no longer the stored one.
      expect(await append(41, 61, [{ ...row(61, 60), receivedAt: LATER }])).toBe(false);
      expect(await stored(41, 61)).toMatchObject({ head: 61, cosignatures: [21, 41, 61] });
      expect((await store().listCosignatures("clinic-a", "a-01", 60, 60))[0]?.receivedAt).toBe(AT);
    });

    it("keeps nothing of an append whose cosignature insert fails: no bundle, head unmoved", async () => {
      const broken = { ...row(81, 80), cosignature: null as unknown as string };
      await expect(append(62, 81, [row(71, 70), broken])).rejects.toThrow();
      expect(await stored(62, 81)).toEqual({ head: 61, bundles: [], cosignatures: [21, 41, 61] });
      // The appliance resends: everything lands together.
      expect(await append(62, 81, [row(71, 70), row(81, 80)])).toBe(true);
      expect(await stored(62, 81)).toMatchObject({ head: 81, cosignatures: [21, 41, 61, 71, 81] });
    });

    it("keeps no cosignature of an append whose bundle insert fails", async () => {
      const rows = bundles(82, 101);
      rows[5] = { ...(rows[5] as EvidenceRow), bundleJson: null as unknown as string };
      await expect(append(82, 101, [row(101, 100)], rows)).rejects.toThrow();
      expect(await stored(82, 101)).toEqual({
        head: 81,
        bundles: [],
        cosignatures: [21, 41, 61, 71, 81],
      });
    });
  },
  withAppliances,
);
