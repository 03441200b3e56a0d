import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ChainHead,
  createSigner,
  type EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  privateKeyToPem,
  verificationKey,
  verifyChain,
} from "#protocol";
import { openJournal } from "./journal.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const alert = (n: number) => ({
  kind: "alert" as const,
  code: "test_event",
  severity: "low" as const,
  message: `event ${n}`,
});

describe("the evidence journal", () => {
  const { privateKey } = generateEd25519KeyPair();
  const signer = createSigner(privateKey);
  const key = verificationKey(signer.publicKey);

  it("chains, receipts and prunes only what was receipted, keeping the head", () => {
    const journal = openJournal(join(dir, "unit.sqlite"), ids, signer);
    const old = new Date("2026-01-01T00:00:00Z");
    journal.append([alert(1), alert(2), alert(3)], old);
    journal.append([alert(4)], new Date("2026-06-01T00:00:00Z"));
    expect(journal.head().seq).toBe(4);
    expect(journal.backlog()).toBe(4);
    const all = journal.bundlesFrom(1, 10);
    expect(
      verifyChain(
        all.map((b) => b.bundle),
        { key, ...ids },
      ).ok,
    ).toBe(true);

    // Nothing is pruned before a receipt covers it, however old.
    expect(journal.prune(new Date("2026-12-01T00:00:00Z"))).toBe(0);
    journal.storeReceipt({
      v: 1,
      type: "evidence_receipt",
      receipt_id: "6f1c1a52-8f6e-4a8e-9f7e-0d1c2b3a4f5e",
      tenant_id: ids.tenantId,
      appliance_id: ids.applianceId,
      first_seq: 1,
      last_seq: 2,
      last_hash: all[1]?.hash ?? "",
      received_at: "2026-06-01T00:00:00Z",
      sig: { alg: "Ed25519", key_id: "a".repeat(64), value: `${"A".repeat(86)}==` },
    });
    expect(journal.receiptedSeq()).toBe(2);
    expect(journal.prune(new Date("2026-12-01T00:00:00Z"))).toBe(2);
    expect(journal.bundlesFrom(1, 10).map((b) => b.seq)).toEqual([3, 4]);
    // The newest receipt stays even when the bundles it covers are gone.
    expect(journal.receipts().map((r) => r.last_seq)).toEqual([2]);
    journal.close();

    // Reopened: head, receipts and the chain continue.
    const again = openJournal(join(dir, "unit.sqlite"), ids, signer);
    expect(again.head()).toEqual({ seq: 4, hash: all[3]?.hash });
    expect(again.append([alert(5)], new Date())[0]?.bundle.prev_hash).toBe(all[3]?.hash);
    expect(again.receipts()).toHaveLength(1);
    again.close();
  });

  it("rolls a failed transaction back whole: no half-written chain", () => {
    const journal = openJournal(join(dir, "tx.sqlite"), ids, signer);
    journal.append([alert(1)], new Date());
    expect(() =>
      journal.transaction(() => {
        journal.append([alert(2), alert(3)], new Date());
        journal.setState("last_order_seq", "7");
        throw new Error("crash in the middle");
      }),
    ).toThrow(/crash in the middle/);
    expect(journal.head().seq).toBe(1);
    expect(journal.getState("last_order_seq")).toBeUndefined();
    expect(journal.append([alert(2)], new Date())[0]?.head.seq).toBe(2);
    journal.close();
  });

  it("survives kill -9 at random points of a write burst: valid chain, no acknowledged event lost", async () => {
    const path = join(dir, "crash.sqlite");
    const keyPath = join(dir, "crash-key.pem");
    writeFileSync(keyPath, privateKeyToPem(privateKey), { mode: 0o600 });
    const script = join(import.meta.dirname, "testing", "journal-burst.ts");
    let acknowledged = 0;
    let verified: ChainHead = GENESIS_HEAD;
    const KILLS = Number(process.env.KILLS ?? 24);
    for (let round = 0; round < KILLS; round++) {
      const target = 1 + Math.floor(Math.random() * 40);
      const child = spawn(process.execPath, [script, path, keyPath], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, signal) => resolve(signal)),
      );
      let acks = 0;
      let buffer = "";
      await new Promise<void>((resolve) => {
        child.stdout.on("data", (chunk: Buffer) => {
          buffer += chunk.toString("utf8");
          const lines = buffer.split("\n");
          buffer = lines.pop() ?? "";
          for (const line of lines) {
            const seq = Number(line.split(" ")[1]);
            acknowledged = Math.max(acknowledged, seq);
            if (++acks === target) {
              // Kill at a random instant shortly after an acknowledgement.
              setTimeout(() => child.kill("SIGKILL"), Math.floor(Math.random() * 4));
              resolve();
            }
          }
        });
        child.on("exit", () => resolve());
      });
      // Killed by us (SIGKILL); never a clean exit or a crash of its own.
      expect(await exited).toBe("SIGKILL");

      // Verify what this round added, continuing from the head verified before; the bundle
      // at that head must be unchanged, so the whole chain is verified once overall.
      const db = new DatabaseSync(path, { readOnly: true });
      const rows = db
        .prepare("SELECT body FROM bundles WHERE seq > ? ORDER BY seq")
        .all(verified.seq) as { body: string }[];
      const anchor = db.prepare("SELECT hash FROM bundles WHERE seq = ?").get(verified.seq) as
        | { hash: string }
        | undefined;
      const head = db.prepare("SELECT value FROM state WHERE key = 'head'").get() as
        | { value: string }
        | undefined;
      db.close();
      if (verified.seq > 0) expect(anchor?.hash, `round ${round}`).toBe(verified.hash);
      const bundles = rows.map((r) => JSON.parse(r.body) as EvidenceBundle);
      const verdict = verifyChain(bundles, { key, ...ids, from: verified });
      expect(verdict.ok, `round ${round}`).toBe(true);
      if (!verdict.ok) return;
      expect(verdict.head.seq).toBeGreaterThanOrEqual(acknowledged);
      expect(JSON.parse(head?.value ?? "{}")).toEqual(verdict.head);
      verified = verdict.head;
    }
    expect(acknowledged).toBeGreaterThan(KILLS);
  }, 180_000);
});
