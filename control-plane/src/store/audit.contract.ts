import { expect, it } from "vitest";
import { GENESIS_HEAD } from "#protocol";
import { AT, defineStoreContract } from "./contract-kit.ts";

export const auditContract = defineStoreContract("audit log", (store) => {
  it("chains the audit log without forks under concurrent writers", async () => {
    const seal = (seq: number, prev: string) => `${prev.slice(0, 8)}-${seq}`;
    await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
        store().appendAudit(
          { at: AT, actor: "t", action: `a${i}`, target: "x", detailJson: "{}" },
          seal,
        ),
      ),
    );
    const entries = await store().listAudit(0, 10);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const [i, e] of entries.entries()) {
      expect(e.prevHash).toBe(i === 0 ? GENESIS_HEAD.hash : entries[i - 1]?.hash);
      expect(e.hash).toBe(seal(e.seq, e.prevHash));
    }
    expect((await store().listAudit(6, 10)).map((e) => e.seq)).toEqual([7, 8]);
  });

  it("does not retry an append that fails for another reason than a lost race", async () => {
    let seals = 0;
    await expect(
      store().appendAudit(
        { at: AT, actor: "t", action: "x", target: "x", detailJson: "{}" },
        () => {
          seals++;
          throw new Error("sealing failed");
        },
      ),
    ).rejects.toThrow("sealing failed");
    expect(seals).toBe(1);
    expect((await store().listAudit(0, 100)).length).toBe(8);
  });
});
