import { describe, expect, it } from "vitest";
import {
  bundleLeafHash,
  type CheckpointContext,
  checkpointDelivery,
  signCheckpoint,
  verifyCheckpoint,
  verifyCheckpointDelivery,
} from "./checkpoint.ts";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { randomNonce, sha256Hex, toHex } from "./encoding.ts";
import { MerkleTree } from "./merkle.ts";
import { tryParseMessage } from "./parse.ts";
import { Checkpoint, CheckpointDelivery } from "./schemas/checkpoint.ts";
import { PollRequest } from "./schemas/orders.ts";
import { createSigner, verificationKey } from "./signed-document.ts";

const signer = createSigner(generateEd25519KeyPair().privateKey);
const key = verificationKey(signer.publicKey);
const bundleHashes = Array.from({ length: 20 }, (_, i) => sha256Hex(new Uint8Array([i, 1])));
const tree = new MerkleTree(bundleHashes.map(bundleLeafHash));
const checkpointAt = (size: number, t = tree) =>
  signCheckpoint(
    {
      tenantId: "clinic-a",
      applianceId: "a-01",
      treeSize: size,
      root: t.root(size),
      issuedAt: "2026-11-25T12:00:00Z",
    },
    signer,
  );
const context = (last?: { treeSize: number; rootHash: string }): CheckpointContext => ({
  key,
  tenantId: "clinic-a",
  applianceId: "a-01",
  last,
  bundleHashAt: (seq) => bundleHashes[seq - 1],
});

describe("checkpoints", () => {
  it("accepts a first checkpoint and then one consistent with it", () => {
    const first = verifyCheckpointDelivery(checkpointDelivery(checkpointAt(7), tree, 0), context());
    expect(first).toMatchObject({ ok: true, fromSize: 0 });
    const last = { treeSize: 7, rootHash: toHex(tree.root(7)) };
    const next = checkpointDelivery(checkpointAt(20), tree, 7);
    expect(verifyCheckpointDelivery(next, context(last))).toMatchObject({ ok: true, fromSize: 7 });
    expect(verifyCheckpoint(next.checkpoint, key).ok).toBe(true);
  });

  it("refuses forged, misaddressed, rolled-back, inconsistent and foreign checkpoints", () => {
    const last = { treeSize: 7, rootHash: toHex(tree.root(7)) };
    const good = checkpointDelivery(checkpointAt(20), tree, 7);
    const reason = (raw: unknown, l = last) => {
      const v = verifyCheckpointDelivery(raw, context(l));
      return v.ok ? "ok" : v.reason;
    };
    expect(reason({ ...good, checkpoint: { ...good.checkpoint, tree_size: 19 } })).toBe(
      "bad_signature",
    );
    const other = signCheckpoint(
      {
        tenantId: "clinic-b",
        applianceId: "a-01",
        treeSize: 20,
        root: tree.root(),
        issuedAt: "2026-11-25T12:00:00Z",
      },
      signer,
    );
    expect(reason({ ...good, checkpoint: other })).toBe("wrong_audience");
    expect(reason(checkpointDelivery(checkpointAt(5), tree, 5))).toBe("rollback");
    // A rewritten history signed by the genuine key: bundle 3 replaced.
    const rewritten = [...bundleHashes];
    rewritten[2] = sha256Hex(new Uint8Array([99]));
    const forgedTree = new MerkleTree(rewritten.map(bundleLeafHash));
    expect(reason(checkpointDelivery(checkpointAt(20, forgedTree), forgedTree, 7))).toBe(
      "inconsistent",
    );
    // A proof from a size the appliance never verified.
    expect(reason(checkpointDelivery(checkpointAt(20), tree, 3))).toBe("inconsistent");
    // A tree whose newest leaf is not this appliance's bundle.
    const tail = [...bundleHashes.slice(0, 19), sha256Hex(new Uint8Array([42]))];
    const tailTree = new MerkleTree(tail.map(bundleLeafHash));
    expect(
      reason(checkpointDelivery(checkpointAt(20, tailTree), tailTree, 7), {
        treeSize: 7,
        rootHash: toHex(tailTree.root(7)),
      }),
    ).toBe("head_not_included");
    expect(reason({ checkpoint: good.checkpoint })).toBe("malformed");
    expect(reason(good)).toBe("ok");
  });

  it("refuses a checkpoint whose newest bundle this appliance does not hold", () => {
    // The control plane's tree has a 21st leaf this appliance never made (its journal ends at 20).
    const extended = [...bundleHashes, sha256Hex(new Uint8Array([21, 1]))];
    const extTree = new MerkleTree(extended.map(bundleLeafHash));
    const last = { treeSize: 7, rootHash: toHex(extTree.root(7)) };
    const verdict = verifyCheckpointDelivery(
      checkpointDelivery(checkpointAt(21, extTree), extTree, 7),
      context(last),
    );
    expect(verdict).toMatchObject({ ok: false, reason: "head_not_included" });
    expect(verdict.ok ? "" : verdict.detail).toMatch(/bundle 21 is not in the local journal/);
  });

  it("refuses a checkpoint older than the one verified, even with its proof from where the appliance stands", () => {
    const last = { treeSize: 7, rootHash: toHex(tree.root(7)) };
    const older = { ...checkpointDelivery(checkpointAt(5), tree, 5), from_size: 7 };
    expect(verifyCheckpointDelivery(older, context(last))).toMatchObject({
      ok: false,
      reason: "rollback",
    });
  });

  it("parses checkpoints and the new poll fields strictly", () => {
    const cp = checkpointAt(7);
    expect(tryParseMessage(Checkpoint, cp).ok).toBe(true);
    expect(tryParseMessage(Checkpoint, { ...cp, note: "x" }).ok).toBe(false);
    expect(tryParseMessage(Checkpoint, { ...cp, tree_size: -1 }).ok).toBe(false);
    expect(tryParseMessage(Checkpoint, { ...cp, root_hash: "AB".repeat(32) }).ok).toBe(false);
    const poll = {
      v: 1,
      type: "poll_request",
      tenant_id: "clinic-a",
      appliance_id: "a-01",
      nonce: randomNonce(),
      last_order_seq: 0,
      evidence_head: { seq: 7, hash: "0".repeat(64) },
      agent_version: "0.1.0",
      sent_at: "2026-11-25T12:00:00Z",
    };
    expect(tryParseMessage(PollRequest, poll).ok).toBe(true);
    expect(tryParseMessage(PollRequest, { ...poll, checkpoint_size: 7 }).ok).toBe(true);
    expect(tryParseMessage(PollRequest, { ...poll, checkpoint_size: 1.5 }).ok).toBe(false);
    const delivery = checkpointDelivery(cp, tree, 0);
    expect(tryParseMessage(CheckpointDelivery, delivery).ok).toBe(true);
    const tooLong = { ...delivery, consistency: Array(65).fill("0".repeat(64)) };
    expect(tryParseMessage(CheckpointDelivery, tooLong).ok).toBe(false);
  });
});
