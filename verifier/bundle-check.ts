import { createHash } from "node:crypto";
import {
  type CheckStateLine,
  CheckStatesAsOf,
  canonicalize,
  EvidenceBundle,
  leafHash,
  publicKeyFromPem,
  verifyBytes,
  verifyCosignature,
} from "../protocol/index.ts";
import { readLines } from "./lines.ts";

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
 * member text is rebuilt from the parsed signature and must occur exactly once.
 */
function signedBytesOfCanonicalLine(
  line: string,
  sig: { alg: string; key_id: string; value: string },
): Uint8Array | undefined {
  const member = `"sig":{"alg":"${sig.alg}","key_id":"${sig.key_id}","value":"${sig.value}"},`;
  const at = line.indexOf(member);
  if (at < 0 || line.indexOf(member, at + 1) >= 0) return undefined;
  return Buffer.from(line.slice(0, at) + line.slice(at + member.length), "utf8");
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

export async function checkRange(task: RangeTask): Promise<RangeResult> {
  const key = publicKeyFromPem(task.publicKeyPem);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let capacity = 1024;
  let seqs = new Float64Array(capacity);
  let status = new Uint8Array(capacity);
  let hashes = new Uint8Array(capacity * 32);
  let prevs = new Uint8Array(capacity * 32);
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
    prevs = widen(prevs, (n) => new Uint8Array(n));
    leaves = widen(leaves, (n) => new Uint8Array(n));
  };
  const fail = (code: BundleStatus, detail: string) => {
    status[count] = BUNDLE_STATUS.indexOf(code);
    if (!problem) problem = { index: count, detail };
  };

  for await (const { bytes } of readLines(task.file, task.start, task.end)) {
    if (count === capacity) grow();
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
      count++;
      continue;
    }
    const notCanonical = canonicalProblem(line, raw);
    if (notCanonical) {
      fail("not_canonical", notCanonical);
      count++;
      continue;
    }
    // The canonical check above already refused an own __proto__ member.
    const parsed = EvidenceBundle.safeParse(raw);
    if (!parsed.success) {
      fail("malformed", parsed.error.issues[0]?.message ?? "not an evidence bundle");
      count++;
      continue;
    }
    const bundle = parsed.data;
    // A canonical line minus its "sig" member is exactly the signed bytes (RFC 8785 of the
    // bundle without sig), so they are cut out rather than serialized again.
    const signed = signedBytesOfCanonicalLine(line, bundle.sig) ?? new Uint8Array(0);
    // The schema already holds sig.value to canonical base64 and prev_hash to lower-case hex.
    const signature = Buffer.from(bundle.sig.value, "base64");
    const hash = createHash("sha256").update(signed).digest();
    hashes.set(hash, count * 32);
    leaves.set(leafHash(hash), count * 32);
    prevs.set(Buffer.from(bundle.prev_hash, "hex"), count * 32);
    const event = bundle.event;
    if (bundle.tenant_id !== task.tenantId) {
      fail("wrong_tenant", `bundle belongs to tenant ${bundle.tenant_id}`);
    } else if (bundle.appliance_id !== task.applianceId) {
      fail("wrong_appliance", `bundle belongs to appliance ${bundle.appliance_id}`);
    } else if (bundle.sig.key_id !== task.keyId || !verifyBytes(key, signed, signature)) {
      fail("bad_signature", "signature does not verify with the appliance key");
    } else if (event.kind === "checkpoint_verified") {
      seen.push({
        index: count,
        treeSize: event.tree_size,
        rootHash: event.root_hash,
        cosigned: event.cosignature !== undefined,
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
      states.observe(bundle, hash.toString("hex"));
    }
    count++;
  }
  return {
    count,
    seqs: seqs.slice(0, count),
    status: status.slice(0, count),
    hashes: hashes.slice(0, count * 32),
    prevs: prevs.slice(0, count * 32),
    leaves: leaves.slice(0, count * 32),
    ...(problem ? { problem } : {}),
    ...(enrollment ? { enrollment } : {}),
    seenCheckpoints: seen,
    refusedCheckpoints: refused,
    checkStates: states?.lines() ?? [],
    cosignaturesVerified,
  };
}
