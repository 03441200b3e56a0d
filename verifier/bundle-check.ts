import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import {
  EvidenceBundle,
  leafHash,
  publicKeyFromPem,
  signingBytes,
  tryParseMessage,
  verifyBytes,
} from "../protocol/index.ts";

/**
 * The per-bundle half of export verification, run over a byte range of bundles.jsonl (in a
 * worker thread for large exports): parse the line strictly, compute the bundle hash over its
 * RFC 8785 bytes without `sig`, and verify the Ed25519 signature with the appliance key. What the
 * chain and the Merkle log need comes back in flat typed arrays (cheap to transfer).
 */
export const BUNDLE_STATUS = [
  "ok",
  "malformed",
  "bad_signature",
  "wrong_tenant",
  "wrong_appliance",
] as const;
export type BundleStatus = (typeof BUNDLE_STATUS)[number];

export interface RangeTask {
  readonly file: string;
  readonly start: number;
  /** Exclusive; Infinity for the end of the file. */
  readonly end: number;
  readonly publicKeyPem: string;
  readonly keyId: string;
  readonly tenantId: string;
  readonly applianceId: string;
}

export interface SeenCheckpoint {
  readonly index: number;
  readonly treeSize: number;
  readonly rootHash: string;
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
}

/**
 * The signed bytes of a bundle line in canonical form: the line without its top-level
 * `"sig":{…},` member (RFC 8785 puts "sig" between "seq" and "tenant_id", so a comma always
 * follows). The member text is rebuilt from the parsed signature and must occur exactly once;
 * whatever the cut yields is only trusted if the signature verifies over exactly those bytes.
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

export async function checkRange(task: RangeTask): Promise<RangeResult> {
  const key = publicKeyFromPem(task.publicKeyPem);
  let capacity = 1024;
  let seqs = new Float64Array(capacity);
  let status = new Uint8Array(capacity);
  let hashes = new Uint8Array(capacity * 32);
  let prevs = new Uint8Array(capacity * 32);
  let leaves = new Uint8Array(capacity * 32);
  const seen: SeenCheckpoint[] = [];
  let problem: RangeResult["problem"];
  let count = 0;

  const grow = () => {
    capacity *= 2;
    const s = new Float64Array(capacity);
    s.set(seqs);
    seqs = s;
    const st = new Uint8Array(capacity);
    st.set(status);
    status = st;
    const h = new Uint8Array(capacity * 32);
    h.set(hashes);
    hashes = h;
    const p = new Uint8Array(capacity * 32);
    p.set(prevs);
    prevs = p;
    const l = new Uint8Array(capacity * 32);
    l.set(leaves);
    leaves = l;
  };
  const fail = (code: BundleStatus, detail: string) => {
    status[count] = BUNDLE_STATUS.indexOf(code);
    if (!problem) problem = { index: count, detail };
  };

  const input = createReadStream(task.file, {
    start: task.start,
    ...(Number.isFinite(task.end) ? { end: task.end - 1 } : {}),
    highWaterMark: 1 << 20,
  });
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (count === capacity) grow();
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      raw = undefined;
    }
    const parsed = tryParseMessage(EvidenceBundle, raw);
    if (!parsed.ok) {
      const claimed = (raw as { seq?: unknown } | undefined)?.seq;
      seqs[count] = typeof claimed === "number" ? claimed : Number.NaN;
      fail("malformed", parsed.problem.split("\n")[0] ?? "not an evidence bundle");
      count++;
      continue;
    }
    const bundle = parsed.value;
    seqs[count] = bundle.seq;
    // Lean path: a canonical line minus its "sig" member is exactly the signed bytes, so no
    // re-canonicalization when that verifies; otherwise the RFC 8785 bytes decide.
    const cut = signedBytesOfCanonicalLine(line, bundle.sig);
    // The schema already holds sig.value to canonical base64 and prev_hash to lower-case hex,
    // so Buffer decodes them without a second validation.
    const signature = Buffer.from(bundle.sig.value, "base64");
    const lean = cut !== undefined && verifyBytes(key, cut, signature);
    const bytes = lean ? cut : signingBytes(bundle);
    const hash = createHash("sha256").update(bytes).digest();
    hashes.set(hash, count * 32);
    leaves.set(leafHash(hash), count * 32);
    prevs.set(Buffer.from(bundle.prev_hash, "hex"), count * 32);
    if (bundle.tenant_id !== task.tenantId) {
      fail("wrong_tenant", `bundle belongs to tenant ${bundle.tenant_id}`);
    } else if (bundle.appliance_id !== task.applianceId) {
      fail("wrong_appliance", `bundle belongs to appliance ${bundle.appliance_id}`);
    } else if (bundle.sig.key_id !== task.keyId || !(lean || verifyBytes(key, bytes, signature))) {
      fail("bad_signature", "signature does not verify with the appliance key");
    } else if (bundle.event.kind === "checkpoint_verified") {
      seen.push({
        index: count,
        treeSize: bundle.event.tree_size,
        rootHash: bundle.event.root_hash,
      });
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
    seenCheckpoints: seen,
  };
}
