import { sha256Hex } from "./encoding.ts";
import { tryParseMessage } from "./parse.ts";
import type { ChainHead } from "./schemas/common.ts";
import { EvidenceBundle, type EvidenceEvent, GENESIS_HASH } from "./schemas/evidence.ts";
import {
  type Signer,
  signingBytes,
  signWithBytes,
  type VerificationKey,
  verifyDocument,
} from "./signed-document.ts";

/**
 * The per-appliance evidence chain: bundle n carries seq n and the hash of bundle n-1, and is
 * signed by the appliance key. The hash of a bundle is SHA-256 over the same canonical bytes
 * its signature covers (the bundle without `sig`), so the chain never depends on signature
 * bytes (a signature is not an identifier).
 */
export const GENESIS_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

export interface BundleDraft {
  readonly tenant_id: string;
  readonly appliance_id: string;
  readonly recorded_at: string;
  readonly event: EvidenceEvent;
}

export interface SealedBundle {
  readonly bundle: EvidenceBundle;
  readonly head: ChainHead;
}

/** Appends one event after `prev`: numbers it, links it, signs it, and returns the new head. */
export function sealBundle(draft: BundleDraft, prev: ChainHead, signer: Signer): SealedBundle {
  const unsigned = {
    v: 1 as const,
    type: "evidence_bundle" as const,
    tenant_id: draft.tenant_id,
    appliance_id: draft.appliance_id,
    seq: prev.seq + 1,
    prev_hash: prev.hash,
    recorded_at: draft.recorded_at,
    event: draft.event,
  };
  const { document, bytes } = signWithBytes<EvidenceBundle>(EvidenceBundle, unsigned, signer);
  return { bundle: document, head: { seq: unsigned.seq, hash: sha256Hex(bytes) } };
}

export function bundleHash(bundle: EvidenceBundle): string {
  return sha256Hex(signingBytes(bundle));
}

export type ChainBreakReason =
  | "malformed"
  | "wrong_tenant"
  | "wrong_appliance"
  | "bad_signature"
  | "duplicate"
  | "fork"
  | "reorder"
  | "sequence_gap"
  | "wrong_prev_hash"
  | "truncated";

export interface ChainBreak {
  /** Position in the list handed to verifyChain; -1 when the break is past the end (truncated). */
  readonly index: number;
  /** The sequence number the offending bundle claims, where it has one. */
  readonly seq?: number;
  readonly reason: ChainBreakReason;
  readonly detail: string;
}

export type ChainVerdict =
  | { readonly ok: true; readonly head: ChainHead; readonly count: number }
  | {
      readonly ok: false;
      readonly break: ChainBreak;
      /** The last bundle that verified before the break (or the starting point). */
      readonly verifiedHead: ChainHead;
      readonly count: number;
    };

export interface VerifyChainOptions {
  readonly key: VerificationKey;
  readonly tenantId: string;
  readonly applianceId: string;
  /** Where the list continues from; the genesis head when it starts at seq 1. */
  readonly from?: ChainHead;
  /** A head known from elsewhere (a signed checkpoint or receipt) that the list must contain. */
  readonly expectedHead?: ChainHead;
}

/**
 * Verifies a run of bundles in order and reports the first break precisely. The bundles are
 * untrusted input: each is parsed, checked for audience, signature, position and link.
 */
export function verifyChain(
  bundles: readonly unknown[],
  options: VerifyChainOptions,
): ChainVerdict {
  let head = options.from ?? GENESIS_HEAD;
  const hashBySeq = new Map<number, string>();
  let count = 0;
  const fail = (index: number, reason: ChainBreakReason, detail: string, seq?: number) => ({
    ok: false as const,
    break: seq === undefined ? { index, reason, detail } : { index, seq, reason, detail },
    verifiedHead: head,
    count,
  });

  for (const [index, raw] of bundles.entries()) {
    const parsed = tryParseMessage(EvidenceBundle, raw);
    if (!parsed.ok) return fail(index, "malformed", parsed.problem);
    const bundle = parsed.value;
    const seq = bundle.seq;
    if (bundle.tenant_id !== options.tenantId) {
      return fail(index, "wrong_tenant", `bundle belongs to tenant ${bundle.tenant_id}`, seq);
    }
    if (bundle.appliance_id !== options.applianceId) {
      return fail(index, "wrong_appliance", `bundle belongs to ${bundle.appliance_id}`, seq);
    }
    const bytes = signingBytes(bundle);
    if (!verifyDocument(bundle, options.key, bytes)) {
      return fail(index, "bad_signature", "signature does not verify with the appliance key", seq);
    }
    const hash = sha256Hex(bytes);
    const earlier = hashBySeq.get(seq);
    if (earlier === hash) return fail(index, "duplicate", `seq ${seq} appears twice`, seq);
    if (earlier !== undefined) {
      return fail(index, "fork", `two different signed bundles claim seq ${seq}`, seq);
    }
    const expected = head.seq + 1;
    if (seq < expected) {
      return fail(index, "reorder", `seq ${seq} arrives after seq ${head.seq}`, seq);
    }
    if (seq > expected) {
      const later = bundles.slice(index + 1).some((b) => claimedSeq(b) === expected);
      return later
        ? fail(index, "reorder", `seq ${seq} arrives before seq ${expected}`, seq)
        : fail(index, "sequence_gap", `seq ${expected} is missing before seq ${seq}`, seq);
    }
    if (bundle.prev_hash !== head.hash) {
      return fail(index, "wrong_prev_hash", `prev_hash does not match bundle ${head.seq}`, seq);
    }
    head = { seq, hash };
    hashBySeq.set(seq, hash);
    count++;
  }

  const anchor = options.expectedHead;
  if (anchor && anchor.seq > (options.from ?? GENESIS_HEAD).seq) {
    if (anchor.seq > head.seq) {
      return fail(-1, "truncated", `chain ends at seq ${head.seq}, expected seq ${anchor.seq}`);
    }
    if (hashBySeq.get(anchor.seq) !== anchor.hash) {
      return fail(-1, "fork", `bundle ${anchor.seq} differs from the expected head`, anchor.seq);
    }
  }
  return { ok: true, head, count };
}

function claimedSeq(raw: unknown): unknown {
  return typeof raw === "object" && raw !== null ? (raw as { seq?: unknown }).seq : undefined;
}
