import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bundleLeafHash,
  checkpointDelivery,
  createSigner,
  type EvidenceBundle,
  generateEd25519KeyPair,
  MerkleTree,
  sha256Hex,
  signCheckpoint,
  toHex,
  verificationKey,
  verifyCosignature,
} from "#protocol";
import {
  checkCheckpointFreshness,
  LAST_CHECKPOINT,
  lastVerifiedCheckpoint,
  recordCheckpoint,
} from "./checkpoint.ts";
import { openJournal } from "./journal.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
const pinnedKey = verificationKey(controlPlane.publicKey);
const now = new Date("2026-11-25T12:00:00Z");
const alert = (n: number) => ({
  kind: "alert" as const,
  code: "test_event",
  severity: "low" as const,
  message: `event ${n}`,
});

describe("checkpoints on the appliance", () => {
  const journal = openJournal(
    join(dir, "journal.sqlite"),
    ids,
    createSigner(generateEd25519KeyPair().privateKey),
  );
  journal.append(
    Array.from({ length: 12 }, (_, i) => alert(i)),
    now,
  );
  // The control plane's tree over what it received: the journal's own bundle hashes.
  const treeOf = (hashes: string[]) => new MerkleTree(hashes.map(bundleLeafHash));
  const ours = () =>
    Array.from({ length: journal.head().seq }, (_, i) => journal.hashAt(i + 1) as string);
  const checkpoint = (tree: MerkleTree, size: number) =>
    signCheckpoint(
      {
        tenantId: ids.tenantId,
        applianceId: ids.applianceId,
        treeSize: size,
        root: tree.root(size),
        issuedAt: now.toISOString(),
      },
      controlPlane,
    );
  const deps = { identity: ids, pinnedKey, now };
  const lastEvent = () => {
    const [stored] = journal.bundlesFrom(journal.head().seq, 1);
    return (stored?.bundle as EvidenceBundle | undefined)?.event;
  };

  it("records a verified checkpoint as evidence and remembers it", () => {
    const tree = treeOf(ours());
    const event = recordCheckpoint(
      journal,
      checkpointDelivery(checkpoint(tree, 12), tree, 0),
      deps,
    );
    expect(event).toMatchObject({ kind: "checkpoint_verified", tree_size: 12, from_size: 0 });
    expect(lastEvent()).toEqual(event);
    expect(lastVerifiedCheckpoint(journal)).toEqual({
      treeSize: 12,
      rootHash: toHex(tree.root(12)),
    });
  });

  it("accepts the next checkpoint only with a consistency proof from the last", () => {
    journal.append([alert(100), alert(101)], now);
    const tree = treeOf(ours());
    const size = journal.head().seq;
    const event = recordCheckpoint(
      journal,
      checkpointDelivery(checkpoint(tree, size), tree, 12),
      deps,
    );
    expect(event).toMatchObject({ kind: "checkpoint_verified", tree_size: size, from_size: 12 });
  });

  it("raises an alert, and keeps its state, for a rewritten history or a rollback", () => {
    const before = journal.getState(LAST_CHECKPOINT);
    const last = lastVerifiedCheckpoint(journal)?.treeSize as number;
    const rewritten = ours();
    rewritten[3] = sha256Hex(new Uint8Array([1, 2, 3]));
    const forged = treeOf(rewritten);
    const size = journal.head().seq;
    const inconsistent = recordCheckpoint(
      journal,
      checkpointDelivery(checkpoint(forged, size), forged, last),
      deps,
    );
    expect(inconsistent).toMatchObject({
      kind: "alert",
      code: "checkpoint_inconsistent",
      severity: "critical",
    });
    expect(lastEvent()).toEqual(inconsistent);
    const tree = treeOf(ours());
    const rollback = recordCheckpoint(
      journal,
      checkpointDelivery(checkpoint(tree, 5), tree, 5),
      deps,
    );
    expect(rollback).toMatchObject({ kind: "alert", code: "checkpoint_rollback" });
    const other = createSigner(generateEd25519KeyPair().privateKey);
    const unsigned = signCheckpoint(
      {
        tenantId: ids.tenantId,
        applianceId: ids.applianceId,
        treeSize: size,
        root: tree.root(size),
        issuedAt: now.toISOString(),
      },
      other,
    );
    expect(recordCheckpoint(journal, checkpointDelivery(unsigned, tree, last), deps)).toMatchObject(
      {
        code: "checkpoint_bad_signature",
      },
    );
    expect(journal.getState(LAST_CHECKPOINT)).toBe(before);
  });
});

describe("the appliance as the log's witness", () => {
  const evidence = createSigner(generateEd25519KeyPair().privateKey);
  const journal = openJournal(join(dir, "witness.sqlite"), ids, evidence);
  journal.append(
    Array.from({ length: 5 }, (_, i) => alert(i)),
    now,
  );
  const hashes = Array.from({ length: 5 }, (_, i) => journal.hashAt(i + 1) as string);
  const tree = new MerkleTree(hashes.map(bundleLeafHash));
  const cp = signCheckpoint(
    { ...ids, treeSize: 5, root: tree.root(5), issuedAt: now.toISOString() },
    controlPlane,
  );

  it("cosigns each checkpoint it verified (C2SP cosignature/v1, evidence key)", () => {
    const event = recordCheckpoint(journal, checkpointDelivery(cp, tree, 0), {
      identity: ids,
      pinnedKey,
      now,
      cosigner: evidence,
    });
    expect(event.kind).toBe("checkpoint_verified");
    const line = (event as { cosignature?: string }).cosignature as string;
    expect(verifyCosignature(cp, line, evidence.publicKey)).toEqual({
      ok: true,
      timestamp: now.getTime() / 1000,
    });
    expect(verifyCosignature(cp, line, controlPlane.publicKey).ok).toBe(false);
  });

  it("flags a control plane whose newest checkpoint is older than the bound (freeze), once", () => {
    const hour = 3_600_000;
    journal.append([alert(6)], now);
    // Grown, but the checkpoint is fresh enough.
    expect(checkCheckpointFreshness(journal, new Date(now.getTime() + 23 * hour))).toBeUndefined();
    const late = new Date(now.getTime() + 25 * hour);
    expect(checkCheckpointFreshness(journal, late)).toMatchObject({
      kind: "alert",
      code: "checkpoint_stale",
      severity: "high",
      subject: `checkpoint 5 ${cp.root_hash}`,
    });
    const [stored] = journal.bundlesFrom(journal.head().seq, 1);
    expect((stored?.bundle as EvidenceBundle | undefined)?.event).toMatchObject({
      code: "checkpoint_stale",
    });
    expect(checkCheckpointFreshness(journal, late)).toBeUndefined();
    // A shorter bound is configurable.
    expect(checkCheckpointFreshness(journal, late, hour)).toBeUndefined();
  });
});
