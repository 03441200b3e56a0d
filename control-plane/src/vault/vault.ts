import { createHash } from "node:crypto";
import {
  backoffDelay,
  bundleLeafHash,
  type Checkpoint,
  type CheckpointDelivery,
  canonicalize,
  checkpointDelivery,
  MerkleTree,
  type Signer,
  signCheckpoint,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Store, VaultObject } from "../store/index.ts";
import { type Archive, MIN_RETENTION_DAYS } from "./archive.ts";
import { checkpointKey, segmentKey } from "./keys.ts";

/**
 * The evidence vault (docs/architecture.md, trust model "Evidence"): per appliance, a Merkle
 * log over its bundles with signed checkpoints, and a durable outbox that archives evidence
 * segments and checkpoints to WORM storage until the archive confirms each one.
 *
 * Three idempotent steps, run by one scheduled job (`runOnce`):
 * 1. publishCheckpoints: a signed checkpoint for every appliance whose log grew (at most one
 *    per tree size: the Store's primary key makes a second instance's insert a no-op).
 * 2. sealSegments: closed time windows of accepted bundles become JSON-lines segments in the
 *    outbox (the cursor moves by compare-and-swap, so two instances never seal one range twice).
 * 3. drainOutbox: uploads due objects; failures retry with exponential backoff, forever.
 * Nothing is deleted locally: evidence rows stay, and anything that prunes later must ask
 * `archivedThrough` first.
 */
export interface VaultOptions {
  readonly store: Store;
  readonly signer: Signer;
  readonly archive: Archive;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Object Lock retention; never below six years (MIN_RETENTION_DAYS). */
  readonly retentionDays: number;
  /** Segment window; divides an hour. */
  readonly segmentSeconds: number;
  /** A window with more bundles than this is cut into several segments. */
  readonly maxSegmentBundles?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

const DAY_MS = 86_400_000;

export interface Vault {
  publishCheckpoints(): Promise<number>;
  sealSegments(options?: { flush?: boolean }): Promise<number>;
  drainOutbox(limit?: number): Promise<{ archived: number; failed: number }>;
  runOnce(options?: { flush?: boolean }): Promise<void>;
  /** The latest checkpoint with proofs from `fromSize`, or undefined when nothing is newer. */
  deliveryFor(
    tenantId: string,
    applianceId: string,
    fromSize: number | undefined,
  ): Promise<CheckpointDelivery | undefined>;
  /** The tree over the appliance's first `size` bundles (cached, extended as evidence grows). */
  treeFor(tenantId: string, applianceId: string, size: number): Promise<MerkleTree>;
  /** Highest seq such that every bundle up to it is in an archived segment. */
  archivedThrough(tenantId: string, applianceId: string): Promise<number>;
  /** The exact bytes of an outbox object, rebuilt from the store. */
  objectBody(object: VaultObject): Promise<Uint8Array>;
}

export function createVault(o: VaultOptions): Vault {
  if (!(o.retentionDays >= MIN_RETENTION_DAYS)) {
    throw new ControlPlaneError(
      "invalid_config",
      `retention must be at least ${MIN_RETENTION_DAYS} days`,
    );
  }
  if (!(o.segmentSeconds > 0 && 3600 % o.segmentSeconds === 0)) {
    throw new ControlPlaneError("invalid_config", "segment window must divide an hour");
  }
  const maxBundles = o.maxSegmentBundles ?? 50_000;
  const trees = new Map<string, MerkleTree>();

  // One extension at a time per appliance: a poll and the job may ask at once.
  const extending = new Map<string, Promise<unknown>>();
  function treeFor(tenantId: string, applianceId: string, size: number): Promise<MerkleTree> {
    const id = `${tenantId}/${applianceId}`;
    const run = (extending.get(id) ?? Promise.resolve())
      .catch(() => {})
      .then(() => extendTree(id, tenantId, applianceId, size));
    extending.set(id, run);
    void run
      .finally(() => {
        if (extending.get(id) === run) extending.delete(id);
      })
      .catch(() => {});
    return run;
  }

  async function extendTree(id: string, tenantId: string, applianceId: string, size: number) {
    // Evidence is append-only, so a tree larger than asked still answers for `size` (every
    // root and proof takes its size explicitly).
    let tree = trees.get(id);
    if (!tree) {
      tree = new MerkleTree();
      if (trees.size >= 1000) trees.delete(trees.keys().next().value as string);
      trees.set(id, tree);
    }
    while (tree.size < size) {
      const to = Math.min(size, tree.size + 10_000);
      const hashes = await o.store.evidenceHashes(tenantId, applianceId, tree.size + 1, to);
      for (let seq = tree.size + 1; seq <= to; seq++) {
        const hash = hashes.get(seq);
        if (hash === undefined)
          throw new ControlPlaneError("vault_incomplete", `evidence ${seq} of ${id} is missing`);
        tree.append(bundleLeafHash(hash));
      }
    }
    return tree;
  }

  async function publishCheckpoints(): Promise<number> {
    let published = 0;
    for (const { tenantId, applianceId, head } of await o.store.listEvidenceHeads()) {
      const latest = await o.store.latestCheckpoint(tenantId, applianceId);
      if (latest && latest.treeSize >= head.seq) continue;
      const tree = await treeFor(tenantId, applianceId, head.seq);
      const issuedAt = o.now().toISOString();
      const checkpoint = signCheckpoint(
        { tenantId, applianceId, treeSize: head.seq, root: tree.root(head.seq), issuedAt },
        o.signer,
      );
      // Canonical (RFC 8785) bytes: what is archived, exported and hashed is one spelling.
      const json = canonicalize(checkpoint);
      const body = new TextEncoder().encode(`${json}\n`);
      const inserted = await o.store.insertCheckpoint(
        {
          tenantId,
          applianceId,
          treeSize: head.seq,
          rootHash: checkpoint.root_hash,
          issuedAt,
          checkpointJson: json,
        },
        {
          objectKey: checkpointKey(tenantId, applianceId, head.seq),
          tenantId,
          applianceId,
          kind: "checkpoint",
          firstSeq: head.seq,
          lastSeq: head.seq,
          sha256: sha256Hex(body),
          byteLength: body.byteLength,
          createdAt: issuedAt,
        },
      );
      if (inserted) published++;
    }
    return published;
  }

  async function sealSegments(options: { flush?: boolean } = {}): Promise<number> {
    const windowMs = o.segmentSeconds * 1000;
    const now = o.now().getTime();
    let sealed = 0;
    for (const { tenantId, applianceId, head } of await o.store.listEvidenceHeads()) {
      let cursor = await o.store.segmentCursor(tenantId, applianceId);
      while (cursor < head.seq) {
        const rows = await o.store.listEvidenceForArchive(
          tenantId,
          applianceId,
          cursor,
          maxBundles,
        );
        const first = rows[0];
        if (!first) break;
        const windowStart = Math.floor(Date.parse(first.receivedAt) / windowMs) * windowMs;
        const inWindow = rows.filter((r) => Date.parse(r.receivedAt) < windowStart + windowMs);
        // Seal a window once it has closed, or at once when full or flushing (export, stop).
        const closed = windowStart + windowMs <= now;
        if (!closed && !options.flush && inWindow.length < maxBundles) break;
        const last = inWindow.at(-1) ?? first;
        const body = segmentBody(inWindow.map((r) => r.bundleJson));
        const queued = await o.store.queueSegment({
          objectKey: segmentKey(tenantId, applianceId, new Date(windowStart), first.seq, last.seq),
          tenantId,
          applianceId,
          kind: "segment",
          firstSeq: first.seq,
          lastSeq: last.seq,
          sha256: sha256Hex(body),
          byteLength: body.byteLength,
          createdAt: new Date(now).toISOString(),
        });
        if (!queued) break; // another instance sealed it; the next run picks up after it
        sealed++;
        cursor = last.seq;
      }
    }
    return sealed;
  }

  async function objectBody(object: VaultObject): Promise<Uint8Array> {
    if (object.kind === "checkpoint") {
      const [cp] = await o.store.listCheckpoints(
        object.tenantId,
        object.applianceId,
        object.firstSeq,
        object.firstSeq,
      );
      if (!cp)
        throw new ControlPlaneError("vault_incomplete", `checkpoint ${object.firstSeq} is missing`);
      return new TextEncoder().encode(`${cp.checkpointJson}\n`);
    }
    const count = object.lastSeq - object.firstSeq + 1;
    const rows = await o.store.listEvidenceForArchive(
      object.tenantId,
      object.applianceId,
      object.firstSeq - 1,
      count,
    );
    if (rows.length !== count || rows.at(-1)?.seq !== object.lastSeq) {
      throw new ControlPlaneError(
        "vault_incomplete",
        `evidence ${object.firstSeq}..${object.lastSeq} is incomplete`,
      );
    }
    return segmentBody(rows.map((r) => r.bundleJson));
  }

  async function drainOutbox(limit = 100) {
    let archived = 0;
    let failed = 0;
    const due = await o.store.dueVaultObjects(o.now().toISOString(), limit);
    for (const object of due) {
      const now = o.now();
      try {
        const body = await objectBody(object);
        if (sha256Hex(body) !== object.sha256) {
          // Never archive bytes other than those queued: this is tampering or a bug.
          await o.store.recordAlert({
            tenantId: object.tenantId,
            applianceId: object.applianceId,
            code: "vault_object_changed",
            detail: `${object.objectKey} no longer matches the checksum recorded when queued`,
            createdAt: now.toISOString(),
          });
          throw new ControlPlaneError(
            "vault_integrity",
            "stored evidence no longer matches the queued checksum",
          );
        }
        const tenant = await o.store.getTenant(object.tenantId);
        const days = Math.max(o.retentionDays, tenant?.retentionDays ?? 0);
        const retainUntil = new Date(now.getTime() + days * DAY_MS);
        const receipt = await o.archive.put({
          key: object.objectKey,
          body,
          sha256: object.sha256,
          retainUntil,
          contentType: object.kind === "segment" ? "application/x-ndjson" : "application/json",
        });
        await o.store.markVaultArchived(object.objectKey, {
          archive: o.archive.kind,
          versionId: receipt.versionId,
          retainUntil: retainUntil.toISOString(),
          archivedAt: o.now().toISOString(),
        });
        archived++;
      } catch (error) {
        failed++;
        // ±20 % so that objects that failed together do not all retry together.
        const wait = backoffDelay(
          object.attempts,
          o.retryBaseMs ?? 5_000,
          o.retryMaxMs ?? 3_600_000,
          0.2,
        );
        const message = error instanceof Error ? error.message : String(error);
        await o.store.markVaultFailed(
          object.objectKey,
          message,
          new Date(now.getTime() + wait).toISOString(),
        );
        o.logger.log("warn", "vault archive failed; will retry", {
          object: object.objectKey,
          attempts: object.attempts + 1,
          err: error,
        });
      }
    }
    return { archived, failed };
  }

  async function deliveryFor(tenantId: string, applianceId: string, fromSize: number | undefined) {
    const latest = await o.store.latestCheckpoint(tenantId, applianceId);
    if (!latest || latest.treeSize === fromSize) return undefined;
    const checkpoint = JSON.parse(latest.checkpointJson) as Checkpoint;
    const tree = await treeFor(tenantId, applianceId, latest.treeSize);
    const from = fromSize ?? 0;
    if (from > latest.treeSize) {
      // The appliance verified a larger tree than we hold (a restored database): let it see.
      return { ...checkpointDelivery(checkpoint, tree, 0), from_size: from, consistency: [] };
    }
    return checkpointDelivery(checkpoint, tree, from);
  }

  async function archivedThrough(tenantId: string, applianceId: string) {
    let through = 0;
    const segments = (await o.store.listVaultObjects(tenantId, applianceId)).filter(
      (x) => x.kind === "segment",
    );
    for (const s of segments) {
      if (s.status !== "archived" || s.firstSeq !== through + 1) break;
      through = s.lastSeq;
    }
    return through;
  }

  return {
    publishCheckpoints,
    sealSegments,
    drainOutbox,
    async runOnce(options = {}) {
      await publishCheckpoints();
      await sealSegments(options);
      for (;;) {
        const { archived, failed } = await drainOutbox();
        if (archived === 0 || failed > 0) break;
      }
    },
    deliveryFor,
    treeFor,
    archivedThrough,
    objectBody,
  };
}

/**
 * A segment is JSON lines of the bundles in their canonical (RFC 8785) form, the same lines an
 * export's bundles.jsonl holds, so an auditor can compare the two with sha256sum.
 */
export function segmentBody(bundleJson: readonly string[]): Uint8Array {
  return new TextEncoder().encode(bundleJson.map((line) => `${canonicalLine(line)}\n`).join(""));
}

export function canonicalLine(json: string): string {
  return canonicalize(JSON.parse(json));
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
