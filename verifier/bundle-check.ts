import { hash as digest } from "node:crypto";
import { statSync } from "node:fs";
import {
  type CheckStateLine,
  CheckStatesAsOf,
  canonicalize,
  EvidenceBundle,
  leafHashInto,
  publicKeyFromPem,
  sha256,
  toHex,
  verifyBytes,
  verifyCosignature,
} from "../protocol/index.ts";
import {
  emptyPlainCheckResult,
  isCanonicalCheckResultBundle,
  plainCheckResultScanner,
} from "./fast-bundle.ts";
import { forEachLine } from "./lines.ts";

/**
 * The per-bundle half of export verification, run over a byte range of bundles.jsonl (in a
 * worker thread for large exports): each line must be exactly the RFC 8785 bytes of what it
 * parses to (no duplicate or reordered member, no second `sig`, no CR, no escape a canonical form
 * would not use, no own `__proto__`), match the schema, and carry the appliance key's Ed25519
 * signature over the line without its `sig` member. What the chain, the Merkle log and the
 * point-in-time answer need comes back in flat typed arrays (cheap to transfer) and short lists.
 */
export const BUNDLE_STATUS = [
  "ok",
  "malformed",
  "bad_signature",
  "wrong_tenant",
  "wrong_appliance",
  "not_canonical",
  "cosignature_bad_signature",
] as const;
export type BundleStatus = (typeof BUNDLE_STATUS)[number];

/** Alerts in which the appliance refused a checkpoint as a fork or a rollback (split view). */
export const REFUSED_CHECKPOINT_ALERTS: readonly string[] = [
  "checkpoint_inconsistent",
  "checkpoint_rollback",
];

export interface RangeTask {
  readonly file: string;
  readonly start: number;
  /** Exclusive; Infinity for the end of the file. */
  readonly end: number;
  readonly publicKeyPem: string;
  readonly keyId: string;
  readonly tenantId: string;
  readonly applianceId: string;
  /** Milliseconds since the epoch: collect each check's last result recorded at or before. */
  readonly asOfMs?: number;
}

export interface SeenCheckpoint {
  readonly index: number;
  readonly treeSize: number;
  readonly rootHash: string;
  /** Whether the bundle carries the appliance's witness cosignature (verified here). */
  readonly cosigned: boolean;
  readonly cosignature?: string;
}

export interface RefusedCheckpoint {
  readonly index: number;
  readonly code: string;
  readonly subject: string;
}

export interface RangeResult {
  readonly count: number;
  readonly seqs: Float64Array;
  readonly status: Uint8Array;
  /** count × 32 bytes: each bundle's hash; and each bundle's claimed prev_hash. */
  readonly hashes: Uint8Array;
  readonly prevs: Uint8Array;
  /** count × 32 bytes: each bundle's Merkle leaf hash, SHA-256(0x00 || hash), made here in parallel. */
  readonly leaves: Uint8Array;
  /** The first problem in this range, by index within it. */
  readonly problem?: { readonly index: number; readonly detail: string };
  /** checkpoint_verified events: what the appliance itself saw (split-view check). */
  readonly seenCheckpoints: readonly SeenCheckpoint[];
  readonly refusedCheckpoints: readonly RefusedCheckpoint[];
  /** The first bundle's event kind and key id statement, for the enrollment statement check. */
  readonly enrollment?: {
    readonly index: number;
    readonly keyId: string;
    readonly cpKeyId: string;
  };
  /** checkpoint_verified events whose witness cosignature verified with the appliance key. */
  readonly cosignaturesVerified: number;
  /** With `asOfMs`: per check, the last result in this range recorded at or before it. */
  readonly checkStates: readonly CheckStateLine[];
}

/**
 * The signed bytes of a canonical bundle line: the line without its top-level `"sig":{…},`
 * member (RFC 8785 puts "sig" between "seq" and "tenant_id", so a comma always follows). The
 * member text is rebuilt from the parsed signature (ASCII: the schema holds its fields to hex and
 * base64) and must occur exactly once. The result is written into `scratch` when it fits.
 */
function signedBytesOfCanonicalLine(
  line: Buffer,
  bundle: EvidenceBundle,
  fast: boolean,
  scratch: Buffer,
): Buffer | undefined {
  const { sig } = bundle;
  const member = `"sig":{"alg":"${sig.alg}","key_id":"${sig.key_id}","value":"${sig.value}"},`;
  let at: number;
  if (fast) {
    // The fast path's shape puts only the ASCII tenant id and two fixed members after it, and
    // no other object-valued "sig" anywhere: one look at the one place it can be.
    const tail = 13 + bundle.tenant_id.length + 33;
    at = line.length - tail - member.length;
    if (at < 0 || line.indexOf(member, at, "latin1") !== at) return undefined;
  } else {
    at = line.indexOf(member, 0, "latin1");
    if (at < 0 || line.indexOf(member, at + 1, "latin1") >= 0) return undefined;
  }
  const length = line.length - member.length;
  const out = length <= scratch.length ? scratch.subarray(0, length) : Buffer.allocUnsafe(length);
  line.copy(out, 0, 0, at);
  line.copy(out, at, at + member.length);
  return out;
}

/** Lower-case hex digits (already checked) at `at` of `text`, as 32 bytes into `out`. */
function hexInto(text: Buffer, at: number, out: Uint8Array, offset: number): void {
  for (let k = 0; k < 32; k++) {
    const hi = text[at + 2 * k] as number;
    const lo = text[at + 2 * k + 1] as number;
    out[offset + k] = (((hi & 0xf) + (hi >> 6) * 9) << 4) | ((lo & 0xf) + (lo >> 6) * 9);
  }
}

/** The exact canonical text check: undefined when `line` is the RFC 8785 form of `raw`. */
function canonicalProblem(line: string, raw: unknown): string | undefined {
  let canonical: string;
  try {
    canonical = canonicalize(raw);
  } catch (error) {
    return (error as Error).message;
  }
  if (canonical === line) return undefined;
  if (line.endsWith("\r")) return "the line ends in CR: lines end in LF alone";
  return "the line is not the RFC 8785 canonical form of its content (duplicate, reordered or extra member, whitespace or escape)";
}

/**
 * A line that passed the fast path (fast-bundle.ts) or, when it did not, the full canonical
 * check and the schema: the bundle, or the status and detail of its first problem.
 */
function parseLine(
  line: string,
  raw: unknown,
): { bundle: EvidenceBundle; fast: boolean } | { code: BundleStatus; detail: string } {
  if (isCanonicalCheckResultBundle(line, raw)) return { bundle: raw, fast: true };
  const notCanonical = canonicalProblem(line, raw);
  if (notCanonical) return { code: "not_canonical", detail: notCanonical };
  // The canonical check above already refused an own __proto__ member.
  const parsed = EvidenceBundle.safeParse(raw);
  if (!parsed.success) {
    return {
      code: "malformed",
      detail: parsed.error.issues[0]?.message ?? "not an evidence bundle",
    };
  }
  return { bundle: parsed.data, fast: false };
}

export async function checkRange(task: RangeTask): Promise<RangeResult> {
  const key = publicKeyFromPem(task.publicKeyPem);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const scratch = Buffer.allocUnsafe(64 * 1024);
  const sigScratch = Buffer.allocUnsafe(64);
  // Sized for lines of about half a kilobyte (a check_result), so that an export of them
  // never grows the arrays; shorter lines grow them by doubling.
  const rangeBytes = Math.min(task.end, statSync(task.file).size) - task.start;
  let capacity = Math.max(1024, Math.ceil(rangeBytes / 512));
  let seqs = new Float64Array(capacity);
  let status = new Uint8Array(capacity);
  let hashes = new Uint8Array(capacity * 32);
  let prevs = Buffer.alloc(capacity * 32);
  let leaves = new Uint8Array(capacity * 32);
  const seen: SeenCheckpoint[] = [];
  const refused: RefusedCheckpoint[] = [];
  const states = task.asOfMs === undefined ? undefined : new CheckStatesAsOf(task.asOfMs);
  let enrollment: RangeResult["enrollment"];
  let problem: RangeResult["problem"];
  let count = 0;
  let cosignaturesVerified = 0;

  const grow = () => {
    capacity *= 2;
    const widen = <A extends Float64Array | Uint8Array>(a: A, make: (n: number) => A) => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    seqs = widen(seqs, (n) => new Float64Array(n));
    status = widen(status, (n) => new Uint8Array(n));
    hashes = widen(hashes, (n) => new Uint8Array(n));
    prevs = widen(prevs, (n) => Buffer.alloc(n));
    leaves = widen(leaves, (n) => new Uint8Array(n));
  };
  // Problems may be found out of file order (batched signatures): keep the earliest.
  const failAt = (index: number, code: BundleStatus, detail: string) => {
    status[index] = BUNDLE_STATUS.indexOf(code);
    if (!problem || index < problem.index) problem = { index, detail };
  };
  const fail = (code: BundleStatus, detail: string) => failAt(count, code, detail);

  // Signatures of check_result bundles are verified in batches: parsing, hashing and checking a
  // batch, then verifying its signatures back to back, keeps the Ed25519 code and tables in the
  // CPU caches (one verification after another costs markedly less than verifications between
  // JSON parses). Nothing follows a check_result's signature but its slot in the results.
  const BATCH = 256;
  const arena = Buffer.allocUnsafe(BATCH * 2048);
  const pending = {
    used: 0,
    n: 0,
    index: new Int32Array(BATCH),
    from: new Int32Array(BATCH),
    to: new Int32Array(BATCH),
  };
  const flush = () => {
    for (let k = 0; k < pending.n; k++) {
      const from = pending.from[k] as number;
      const to = pending.to[k] as number;
      if (!verifyBytes(key, arena.subarray(from + 64, to), arena.subarray(from, from + 64))) {
        failAt(
          pending.index[k] as number,
          "bad_signature",
          "signature does not verify with the appliance key",
        );
      }
    }
    pending.n = 0;
    pending.used = 0;
  };
  const defer = (signed: Uint8Array, signature: Uint8Array): boolean => {
    if (signature.length !== 64 || pending.used + 64 + signed.length > arena.length) return false;
    const from = pending.used;
    arena.set(signature, from);
    arena.set(signed, from + 64);
    pending.index[pending.n] = count;
    pending.from[pending.n] = from;
    pending.to[pending.n] = from + 64 + signed.length;
    pending.used = from + 64 + signed.length;
    pending.n++;
    if (pending.n === BATCH) flush();
    return true;
  };

  // The commonest line (a plain check_result of this export's tenant, appliance and key) is
  // read from its bytes: its signed bytes and signature go straight into the batch arena.
  const scanPlain = plainCheckResultScanner(task);
  const plain = emptyPlainCheckResult();
  const checkPlainLine = (bytes: Buffer): void => {
    const length = bytes.length - (plain.sigTo - plain.sigFrom);
    if (pending.used + 64 + length > arena.length) flush();
    const from = pending.used;
    arena.set(plain.signature, from);
    const signed = arena.subarray(from + 64, from + 64 + length);
    bytes.copy(signed, 0, 0, plain.sigFrom);
    bytes.copy(signed, plain.sigFrom, plain.sigTo);
    seqs[count] = plain.seq;
    const hash = digest("sha256", signed, "buffer");
    hashes.set(hash, count * 32);
    leafHashInto(hash, leaves, count * 32);
    hexInto(bytes, plain.prevAt, prevs, count * 32);
    pending.index[pending.n] = count;
    pending.from[pending.n] = from;
    pending.to[pending.n] = from + 64 + length;
    pending.used = from + 64 + length;
    pending.n++;
    if (pending.n === BATCH) flush();
    if (states) {
      const event = { kind: "check_result", check_id: plain.checkId, status: plain.status };
      const recordedAt = bytes.toString("latin1", plain.recordedFrom, plain.recordedTo);
      states.observe({ seq: plain.seq, recorded_at: recordedAt, event }, toHex(hash));
    }
  };

  const checkLine = (bytes: Buffer) => {
    if (scanPlain(bytes, plain)) {
      checkPlainLine(bytes);
      return;
    }
    let line: string | undefined;
    let raw: unknown;
    try {
      line = decoder.decode(bytes);
      raw = JSON.parse(line);
    } catch {
      raw = undefined;
    }
    const claimed = (raw as { seq?: unknown } | undefined)?.seq;
    seqs[count] = typeof claimed === "number" ? claimed : Number.NaN;
    if (line === undefined || raw === undefined) {
      fail("malformed", line === undefined ? "not UTF-8" : "not JSON");
      return;
    }
    const checked = parseLine(line, raw);
    if (!("bundle" in checked)) {
      fail(checked.code, checked.detail);
      return;
    }
    const bundle = checked.bundle;
    // A canonical line minus its "sig" member is exactly the signed bytes (RFC 8785 of the
    // bundle without sig), so they are cut out rather than serialized again.
    const signed =
      signedBytesOfCanonicalLine(bytes, bundle, checked.fast, scratch) ?? new Uint8Array(0);
    // The schema already holds sig.value to canonical base64 (64 bytes) and prev_hash to
    // lower-case hex.
    const signature = sigScratch.subarray(0, sigScratch.write(bundle.sig.value, "base64"));
    const hash = sha256(signed);
    hashes.set(hash, count * 32);
    leafHashInto(hash, leaves, count * 32);
    prevs.write(bundle.prev_hash, count * 32, 32, "hex");
    const event = bundle.event;
    if (bundle.tenant_id !== task.tenantId) {
      fail("wrong_tenant", `bundle belongs to tenant ${bundle.tenant_id}`);
    } else if (bundle.appliance_id !== task.applianceId) {
      fail("wrong_appliance", `bundle belongs to appliance ${bundle.appliance_id}`);
    } else if (bundle.sig.key_id !== task.keyId) {
      fail("bad_signature", "signature does not verify with the appliance key");
    } else if (checked.fast && defer(signed, signature)) {
      if (states) states.observe(bundle, toHex(hash));
    } else if (!verifyBytes(key, signed, signature)) {
      fail("bad_signature", "signature does not verify with the appliance key");
    } else if (event.kind === "checkpoint_verified") {
      seen.push({
        index: count,
        treeSize: event.tree_size,
        rootHash: event.root_hash,
        cosigned: event.cosignature !== undefined,
        ...(event.cosignature !== undefined ? { cosignature: event.cosignature } : {}),
      });
      if (event.cosignature !== undefined) {
        const cp = { ...bundle, tree_size: event.tree_size, root_hash: event.root_hash };
        const verdict = verifyCosignature(cp, event.cosignature, key);
        if (verdict.ok) cosignaturesVerified++;
        else fail("cosignature_bad_signature", `witness cosignature: ${verdict.detail}`);
      }
    } else if (event.kind === "alert" && REFUSED_CHECKPOINT_ALERTS.includes(event.code)) {
      refused.push({ index: count, code: event.code, subject: event.subject ?? "checkpoint" });
    } else if (event.kind === "enrollment_statement" && bundle.seq === 1) {
      enrollment = { index: count, keyId: event.key_id, cpKeyId: event.control_plane_key_id };
    } else if (states && event.kind === "check_result") {
      states.observe(bundle, toHex(hash));
    }
  };

  forEachLine(task.file, task.start, task.end, (bytes) => {
    if (count === capacity) grow();
    checkLine(bytes);
    count++;
  });
  flush();
  return {
    count,
    seqs: seqs.slice(0, count),
    status: status.slice(0, count),
    hashes: hashes.slice(0, count * 32),
    prevs: new Uint8Array(prevs.subarray(0, count * 32)),
    leaves: leaves.slice(0, count * 32),
    ...(problem ? { problem } : {}),
    ...(enrollment ? { enrollment } : {}),
    seenCheckpoints: seen,
    refusedCheckpoints: refused,
    checkStates: states?.lines() ?? [],
    cosignaturesVerified,
  };
}
