import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSigner, type EvidenceReceipt, generateEd25519KeyPair } from "#protocol";
import { openJournal } from "./journal.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-receipts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const signer = createSigner(generateEd25519KeyPair().privateKey);

const receipt = (first: number, last: number, hash: string): EvidenceReceipt => ({
  v: 1,
  type: "evidence_receipt",
  receipt_id: crypto.randomUUID(),
  ...{ tenant_id: ids.tenantId, appliance_id: ids.applianceId },
  first_seq: first,
  last_seq: last,
  last_hash: hash,
  received_at: "2026-06-01T00:00:00Z",
  sig: { alg: "Ed25519", key_id: "a".repeat(64), value: `${"A".repeat(86)}==` },
});

describe("receipts in the journal", () => {
  it("a receipt that leaves a gap never moves the receipted seq past it", () => {
    const journal = openJournal(join(dir, "gap.sqlite"), ids, signer);
    const events = [1, 2, 3, 4, 5, 6].map((n) => ({
      kind: "alert" as const,
      code: "test_event",
      severity: "low" as const,
      message: `event ${n}`,
    }));
    const sealed = journal.append(events, new Date());
    const hash = (seq: number) => sealed[seq - 1]?.head.hash ?? "";
    journal.storeReceipt(receipt(1, 2, hash(2)));
    expect(journal.receiptedSeq()).toBe(2);
    // 3 was never receipted: a receipt for 5..6 must not count it as safe (it would be pruned
    // and never pushed).
    journal.storeReceipt(receipt(5, 6, hash(6)));
    expect(journal.receiptedSeq()).toBe(2);
    expect(journal.backlog()).toBe(4);
    journal.storeReceipt(receipt(3, 6, hash(6)));
    expect(journal.receiptedSeq()).toBe(6);
    journal.close();
  });
});
