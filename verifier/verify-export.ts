import { createHash, type Hash } from "node:crypto";
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import type { z } from "zod";
import {
  CheckpointDelivery,
  canonicalize,
  EXPORT_FILES,
  ExportManifest,
  fromHex,
  GENESIS_HASH,
  keyId,
  leafHash,
  publicKeyFromPem,
  RootBuilder,
  sha256Hex,
  toHex,
  tryParseMessage,
  verificationKey,
  verifyCheckpoint,
  verifyConsistency,
  verifyDocument,
  verifyInclusion,
  WormObjectList,
  type WormObjectRecord,
} from "../protocol/index.ts";
import { BUNDLE_STATUS, checkRange, type RangeResult, type RangeTask } from "./bundle-check.ts";

/**
 * The offline auditor verifier: given an export directory and nothing else (no network, no
 * control plane), it checks the signed manifest, every bundle's signature, the hash chain,
 * every checkpoint's signature, its consistency with the previous checkpoint (RFC 9162 §2.1.4)
 * and the inclusion of its newest bundle (§2.1.3), recomputes every checkpoint's root from the
 * bundles, and compares the checkpoints the appliance itself recorded as verified (split view).
 * It stops at the first failure and names it.
 */
export type ExportFailureReason =
  | "missing_file"
  | "manifest_malformed"
  | "manifest_bad_signature"
  | "key_mismatch"
  | (typeof BUNDLE_STATUS)[number]
  | "duplicate"
  | "fork"
  | "reorder"
  | "sequence_gap"
  | "wrong_prev_hash"
  | "truncated"
  | "beyond_manifest"
  | "checkpoint_malformed"
  | "checkpoint_bad_signature"
  | "checkpoint_wrong_appliance"
  | "checkpoint_out_of_range"
  | "checkpoint_inconsistent"
  | "checkpoint_head_not_included"
  | "checkpoint_root_mismatch"
  | "split_view"
  | "worm_list_malformed"
  | "worm_mismatch";

export interface ExportFailure {
  readonly reason: ExportFailureReason;
  readonly detail: string;
  readonly file: string;
  /** 1-based line in `file`, where the failure is one line. */
  readonly line?: number;
  readonly seq?: number;
}

export interface ExportSummary {
  readonly ok: boolean;
  readonly tenant_id?: string;
  readonly appliance_id?: string;
  readonly control_plane_key_id?: string;
  readonly appliance_key_id?: string;
  readonly seq_range?: readonly [number, number];
  readonly bundles: number;
  readonly signatures_verified: number;
  readonly chain_links_verified: number;
  readonly checkpoints: number;
  readonly checkpoints_verified: number;
  readonly consistency_proofs_verified: number;
  readonly inclusion_proofs_verified: number;
  readonly roots_recomputed: number;
  readonly appliance_seen_checkpoints_matched: number;
  /** Checkpoints and segments inside the export whose bytes match their WORM object's SHA-256. */
  readonly worm_objects_matched: number;
  readonly worm_objects_archived: number;
  readonly first_failure?: ExportFailure;
}

export interface VerifyOptions {
  /** Worker threads for signatures; 0 verifies in this thread. Default: one per core for large exports. */
  readonly workers?: number;
}

class Failed extends Error {
  readonly failure: ExportFailure;
  constructor(failure: ExportFailure) {
    super(failure.detail);
    this.failure = failure;
  }
}

const fail = (failure: ExportFailure): never => {
  throw new Failed(failure);
};

export async function verifyExport(
  directory: string,
  options: VerifyOptions = {},
): Promise<ExportSummary> {
  const counts = {
    bundles: 0,
    signatures_verified: 0,
    chain_links_verified: 0,
    checkpoints: 0,
    checkpoints_verified: 0,
    consistency_proofs_verified: 0,
    inclusion_proofs_verified: 0,
    roots_recomputed: 0,
    appliance_seen_checkpoints_matched: 0,
    worm_objects_matched: 0,
    worm_objects_archived: 0,
  };
  const info: Partial<ExportSummary> = {};
  try {
    await verifyInto(directory, options, counts, info);
    return { ok: true, ...info, ...counts };
  } catch (error) {
    if (!(error instanceof Failed)) throw error;
    return { ok: false, ...info, ...counts, first_failure: error.failure };
  }
}

async function verifyInto(
  directory: string,
  options: VerifyOptions,
  counts: {
    -readonly [K in keyof ExportSummary as ExportSummary[K] extends number ? K : never]: number;
  },
  info: { -readonly [K in keyof ExportSummary]?: ExportSummary[K] },
): Promise<void> {
  const path = (name: string) => join(directory, name);
  const read = (name: string) => {
    try {
      return readFileSync(path(name), "utf8");
    } catch {
      return fail({ reason: "missing_file", detail: `${name} cannot be read`, file: name });
    }
  };
  const readJson = <S extends z.ZodType>(
    name: string,
    schema: S,
    reason: "manifest_malformed" | "worm_list_malformed",
  ): z.infer<S> => {
    let raw: unknown;
    try {
      raw = JSON.parse(read(name));
    } catch (error) {
      if (error instanceof Failed) throw error;
      fail({ reason, detail: "not JSON", file: name });
    }
    const parsed = tryParseMessage(schema, raw);
    return parsed.ok ? parsed.value : fail({ reason, detail: parsed.problem, file: name });
  };

  // 1. The manifest, signed by the control-plane key shipped beside it. (An auditor compares
  // that key's id with one obtained independently, e.g. the one pinned on the appliance.)
  const M = EXPORT_FILES.manifest;
  const manifest = readJson(M, ExportManifest, "manifest_malformed");
  Object.assign(info, {
    tenant_id: manifest.tenant_id,
    appliance_id: manifest.appliance_id,
    seq_range: [manifest.first_seq, manifest.last_seq] as const,
  });
  const cpKey = loadKey(read(EXPORT_FILES.controlPlaneKey), EXPORT_FILES.controlPlaneKey);
  const applianceKeyPem = read(EXPORT_FILES.applianceKey);
  const applianceKey = loadKey(applianceKeyPem, EXPORT_FILES.applianceKey);
  info.control_plane_key_id = cpKey.keyId;
  info.appliance_key_id = applianceKey.keyId;
  if (cpKey.keyId !== manifest.control_plane_key_id) {
    fail({
      reason: "key_mismatch",
      detail: "control-plane key differs from the manifest's",
      file: M,
    });
  }
  if (applianceKey.keyId !== manifest.appliance_key_id) {
    fail({ reason: "key_mismatch", detail: "appliance key differs from the manifest's", file: M });
  }
  if (!verifyDocument(manifest, cpKey)) {
    fail({
      reason: "manifest_bad_signature",
      detail: "not signed by the control-plane key",
      file: M,
    });
  }

  // 2. Every bundle: schema, audience, signature (in parallel), then the chain in order.
  const B = EXPORT_FILES.bundles;
  // The WORM segments' hashes are computed alongside the signature workers (read-only, no
  // verdict yet); they are compared in step 5, after the chain has proven the line order.
  const segmentDigests = startSegmentDigests(path(B), manifest, path(EXPORT_FILES.wormObjects));
  const results = await checkBundles(path(B), options, {
    publicKeyPem: applianceKeyPem,
    keyId: applianceKey.keyId,
    tenantId: manifest.tenant_id,
    applianceId: manifest.appliance_id,
  });
  const total = results.reduce((n, r) => n + r.count, 0);
  counts.bundles = total;
  const seqs = new Float64Array(total);
  const hashes = new Uint8Array(total * 32);
  const prevs = new Uint8Array(total * 32);
  const leaves = new Uint8Array(total * 32);
  let offset = 0;
  for (const r of results) {
    for (let i = 0; i < r.count; i++) {
      const code = r.status[i] as number;
      if (code !== 0) {
        const reason = BUNDLE_STATUS[code] as (typeof BUNDLE_STATUS)[number];
        const detail = r.problem?.index === i ? r.problem.detail : reason;
        fail({ reason, detail, file: B, line: offset + i + 1, seq: r.seqs[i] as number });
      }
    }
    seqs.set(r.seqs, offset);
    hashes.set(r.hashes, offset * 32);
    prevs.set(r.prevs, offset * 32);
    leaves.set(r.leaves, offset * 32);
    offset += r.count;
  }
  counts.signatures_verified = total;

  const hashAt = (i: number) => hashes.subarray(i * 32, i * 32 + 32);
  const genesis = fromHex(GENESIS_HASH, "genesis");
  for (let i = 0; i < total; i++) {
    const seq = seqs[i] as number;
    const expected = i === 0 ? manifest.first_seq : (seqs[i - 1] as number) + 1;
    const at = { file: B, line: i + 1, seq };
    if (i > 0 && seq === seqs[i - 1]) {
      const same = Buffer.compare(hashAt(i), hashAt(i - 1)) === 0;
      fail({ ...at, reason: same ? "duplicate" : "fork", detail: `seq ${seq} appears twice` });
    }
    if (seq < expected) {
      fail({ ...at, reason: "reorder", detail: `seq ${seq} where seq ${expected} belongs` });
    }
    if (seq > expected) {
      const later = seqs.subarray(i + 1).includes(expected);
      fail({
        ...at,
        reason: later ? "reorder" : "sequence_gap",
        detail: later ? `seq ${seq} comes before seq ${expected}` : `seq ${expected} is missing`,
      });
    }
    if (seq > manifest.last_seq) {
      fail({
        ...at,
        reason: "beyond_manifest",
        detail: `the manifest ends at ${manifest.last_seq}`,
      });
    }
    const prev = prevs.subarray(i * 32, i * 32 + 32);
    const link = i > 0 ? hashAt(i - 1) : seq === 1 ? genesis : undefined;
    if (link && Buffer.compare(prev, link) !== 0) {
      fail({
        ...at,
        reason: "wrong_prev_hash",
        detail: `prev_hash does not match bundle ${seq - 1}`,
      });
    }
    if (i > 0 || seq === 1) counts.chain_links_verified++;
  }
  const lastSeq = total > 0 ? (seqs[total - 1] as number) : manifest.first_seq - 1;
  if (lastSeq < manifest.last_seq) {
    fail({
      reason: "truncated",
      detail: `bundles end at seq ${lastSeq}; the signed manifest and checkpoint reach ${manifest.last_seq}`,
      file: B,
    });
  }
  const indexOfSeq = (seq: number) => seq - manifest.first_seq;

  // 3. Checkpoints: signature, audience, consistency with the previous one, head inclusion.
  const C = EXPORT_FILES.checkpoints;
  const lines = read(C)
    .split("\n")
    .filter((l) => l.length > 0);
  counts.checkpoints = lines.length;
  const verified: { size: number; root: Uint8Array }[] = [];
  for (const [j, text] of lines.entries()) {
    const at = { file: C, line: j + 1 };
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      fail({ ...at, reason: "checkpoint_malformed", detail: "not JSON" });
    }
    const line = tryParseMessage(CheckpointDelivery, raw);
    if (!line.ok) return fail({ ...at, reason: "checkpoint_malformed", detail: line.problem });
    const signed = verifyCheckpoint(line.value.checkpoint, cpKey);
    if (!signed.ok)
      return fail({ ...at, reason: "checkpoint_bad_signature", detail: signed.detail });
    const cp = signed.checkpoint;
    const size = cp.tree_size;
    if (cp.tenant_id !== manifest.tenant_id || cp.appliance_id !== manifest.appliance_id) {
      fail({
        ...at,
        reason: "checkpoint_wrong_appliance",
        detail: `for ${cp.tenant_id}/${cp.appliance_id}`,
      });
    }
    if (size < manifest.first_seq || size > manifest.last_seq) {
      fail({
        ...at,
        reason: "checkpoint_out_of_range",
        detail: `tree size ${size} is outside the export`,
      });
    }
    const root = fromHex(cp.root_hash, "root");
    const previous = verified.at(-1);
    const from = previous ?? { size: 0, root: new Uint8Array(32) };
    if (previous && (line.value.from_size !== previous.size || size <= previous.size)) {
      fail({
        ...at,
        reason: "checkpoint_inconsistent",
        detail: `proof from ${line.value.from_size} after checkpoint ${previous.size}, size ${size}`,
      });
    }
    const proof = line.value.consistency.map((h) => fromHex(h, "proof"));
    if (previous && !verifyConsistency(from.size, size, from.root, root, proof)) {
      fail({
        ...at,
        reason: "checkpoint_inconsistent",
        detail: `checkpoint ${size} does not extend checkpoint ${previous.size} (RFC 9162 §2.1.4)`,
      });
    }
    if (previous) counts.consistency_proofs_verified++;
    const head = hashAt(indexOfSeq(size));
    const inclusion = line.value.head_inclusion.map((h) => fromHex(h, "proof"));
    if (!verifyInclusion(leafHash(head), size - 1, size, inclusion, root)) {
      fail({
        ...at,
        reason: "checkpoint_head_not_included",
        detail: `bundle ${size} is not the newest leaf of checkpoint ${size} (RFC 9162 §2.1.3)`,
      });
    }
    counts.inclusion_proofs_verified++;
    verified.push({ size, root });
  }
  if ((verified.at(-1)?.size ?? 0) !== manifest.last_seq) {
    fail({ reason: "truncated", detail: `no checkpoint of size ${manifest.last_seq}`, file: C });
  }

  // 4. Recompute every root from the bundles, and what the appliance saw (split view).
  const seen = results.flatMap((r, k) => {
    const base = results.slice(0, k).reduce((n, x) => n + x.count, 0);
    return r.seenCheckpoints.map((s) => ({ ...s, index: base + s.index }));
  });
  const wanted = new Map<
    number,
    { root?: Uint8Array; line?: number; seen?: (typeof seen)[number][] }
  >();
  for (const [j, v] of verified.entries()) wanted.set(v.size, { root: v.root, line: j + 1 });
  for (const s of seen) {
    if (s.treeSize < manifest.first_seq - 1 || s.treeSize > manifest.last_seq) continue;
    const w = wanted.get(s.treeSize) ?? {};
    w.seen = [...(w.seen ?? []), s];
    wanted.set(s.treeSize, w);
  }
  let builder: RootBuilder;
  try {
    builder = new RootBuilder(
      manifest.first_seq - 1,
      manifest.prefix_frontier.map((h) => fromHex(h, "frontier")),
    );
  } catch (error) {
    return fail({ reason: "manifest_malformed", detail: (error as Error).message, file: M });
  }
  const check = () => {
    const w = wanted.get(builder.size);
    if (!w) return;
    const root = builder.root();
    if (w.root) {
      if (Buffer.compare(root, w.root) !== 0) {
        fail({
          file: C,
          line: w.line as number,
          reason: "checkpoint_root_mismatch",
          detail: `the bundles give root ${toHex(root)} at size ${builder.size}`,
        });
      }
      counts.roots_recomputed++;
      counts.checkpoints_verified++;
    }
    for (const s of w.seen ?? []) {
      if (toHex(root) !== s.rootHash) {
        fail({
          file: B,
          line: s.index + 1,
          seq: seqs[s.index] as number,
          reason: "split_view",
          detail: `the appliance verified root ${s.rootHash} at size ${s.treeSize}; the log has ${toHex(root)}`,
        });
      }
      counts.appliance_seen_checkpoints_matched++;
    }
  };
  check();
  for (let i = 0; i < total; i++) {
    builder.append(leaves.subarray(i * 32, i * 32 + 32));
    check();
  }

  // 5. WORM anchoring: the archived objects' recorded SHA-256 against the exported bytes, for
  // every checkpoint and every segment that lies inside the export.
  const W = EXPORT_FILES.wormObjects;
  const objects = readJson(W, WormObjectList, "worm_list_malformed");
  const byCheckpoint = new Map(
    objects.filter((o) => o.kind === "checkpoint").map((o) => [o.last_seq, o] as const),
  );
  for (const [j, text] of lines.entries()) {
    const cp = (JSON.parse(text) as { checkpoint: { tree_size: number } }).checkpoint;
    const record = byCheckpoint.get(cp.tree_size);
    if (!record) continue;
    if (sha256Hex(new TextEncoder().encode(`${canonicalize(cp)}\n`)) !== record.sha256) {
      fail({
        file: W,
        reason: "worm_mismatch",
        detail: `checkpoint on line ${j + 1} differs from WORM object ${record.key}`,
      });
    }
    counts.worm_objects_matched++;
  }
  const segments = objects.filter(
    (o) =>
      o.kind === "segment" && o.first_seq >= manifest.first_seq && o.last_seq <= manifest.last_seq,
  );
  const digests = await segmentDigests;
  for (const segment of segments) {
    const digest =
      digests.get(segment.key) ??
      (await digestSegments(path(B), manifest.first_seq, [segment])).get(segment.key);
    if (digest !== segment.sha256) {
      fail({
        file: W,
        reason: "worm_mismatch",
        detail: `bundles ${segment.first_seq}..${segment.last_seq} differ from WORM object ${segment.key}`,
      });
    }
    counts.worm_objects_matched++;
  }
  counts.worm_objects_archived = objects.filter((o) => o.status === "archived").length;
}

/** The segments of the WORM list that lie inside the export, when the list parses at all. */
function segmentsInside(
  objects: readonly WormObjectRecord[],
  manifest: { first_seq: number; last_seq: number },
): WormObjectRecord[] {
  return objects.filter(
    (o) =>
      o.kind === "segment" && o.first_seq >= manifest.first_seq && o.last_seq <= manifest.last_seq,
  );
}

function startSegmentDigests(
  bundles: string,
  manifest: { first_seq: number; last_seq: number },
  wormFile: string,
): Promise<Map<string, string>> {
  let segments: WormObjectRecord[] = [];
  try {
    const parsed = WormObjectList.safeParse(JSON.parse(readFileSync(wormFile, "utf8")));
    if (parsed.success) segments = segmentsInside(parsed.data, manifest);
  } catch {
    // Reported in step 5 with its reason.
  }
  const digests =
    segments.length > 0
      ? digestSegments(bundles, manifest.first_seq, segments)
      : Promise.resolve(new Map<string, string>());
  return digests.catch(() => new Map<string, string>());
}

/** SHA-256 of the exported lines of each segment's range (line n holds seq first_seq + n - 1). */
async function digestSegments(
  file: string,
  firstSeq: number,
  segments: readonly WormObjectRecord[],
): Promise<Map<string, string>> {
  const sorted = [...segments].sort((a, b) => a.first_seq - b.first_seq);
  const digests = new Map<string, string>();
  let k = 0;
  let hash: Hash | undefined;
  let seq = firstSeq - 1;
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    seq++;
    const segment = sorted[k];
    if (!segment) break;
    if (seq === segment.first_seq) hash = createHash("sha256");
    if (hash) hash.update(`${line}\n`);
    if (hash && seq === segment.last_seq) {
      digests.set(segment.key, hash.digest("hex"));
      hash = undefined;
      k++;
    }
  }
  input.destroy();
  return digests;
}

function loadKey(pem: string, file: string) {
  try {
    const key = publicKeyFromPem(pem);
    return { ...verificationKey(key), keyId: keyId(key) };
  } catch {
    return fail({ reason: "key_mismatch", detail: "not an Ed25519 public key", file });
  }
}

/** Splits bundles.jsonl at line boundaries and checks the parts in worker threads. */
async function checkBundles(
  file: string,
  options: VerifyOptions,
  base: Omit<RangeTask, "file" | "start" | "end">,
): Promise<RangeResult[]> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return fail({
      reason: "missing_file",
      detail: "bundles.jsonl cannot be read",
      file: "bundles.jsonl",
    });
  }
  const workers = options.workers ?? (size > 4 * 1024 * 1024 ? availableParallelism() : 0);
  if (workers === 0) return [await checkRange({ ...base, file, start: 0, end: Infinity })];
  const cuts = [0];
  const fd = openSync(file, "r");
  try {
    const probe = Buffer.alloc(64 * 1024);
    for (let k = 1; k < workers; k++) {
      let pos = Math.floor((size * k) / workers);
      if (pos <= (cuts.at(-1) as number)) continue;
      for (;;) {
        const n = readSync(fd, probe, 0, probe.length, pos);
        if (n === 0) {
          pos = size;
          break;
        }
        const nl = probe.subarray(0, n).indexOf(10);
        if (nl >= 0) {
          pos += nl + 1;
          break;
        }
        pos += n;
      }
      if (pos < size) cuts.push(pos);
    }
  } finally {
    closeSync(fd);
  }
  const ranges = cuts.map((start, k) => ({ start, end: cuts[k + 1] ?? Infinity }));
  return Promise.all(
    ranges.map(
      (r) =>
        new Promise<RangeResult>((resolve, reject) => {
          const worker = new Worker(new URL("./worker.ts", import.meta.url), {
            workerData: { ...base, file, ...r } satisfies RangeTask,
          });
          worker.once("message", resolve);
          worker.once("error", reject);
          worker.once("exit", (code) => {
            if (code !== 0) reject(new Error(`verifier worker exited with ${code}`));
          });
        }),
    ),
  );
}
