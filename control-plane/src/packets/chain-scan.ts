import { z } from "zod";
import {
  bundleHash,
  type ChainHead,
  EvidenceBundle,
  GENESIS_HEAD,
  Sha256Hex,
  Signature,
  type Signer,
  signDocument,
  TenantId,
  Timestamp,
  type VerificationKey,
  verificationKey,
  verifyChain,
  verifyDocument,
} from "#protocol";
import type { Store } from "../store/index.ts";

/**
 * How far an appliance's chain was verified in full by an earlier packet: signed by the control
 * plane's key, so a row written into the database by anyone else is not believed.
 */
export const VerifiedHead = z.strictObject({
  v: z.literal(1),
  type: z.literal("verified_head"),
  tenant_id: TenantId,
  appliance_id: z.string().min(1).max(63),
  seq: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  hash: Sha256Hex,
  verified_at: Timestamp,
  sig: Signature,
});
export type VerifiedHead = z.infer<typeof VerifiedHead>;

export interface ChainScan {
  readonly ok: boolean;
  /** The last seq stored (the chain's length when it starts at 1 with no gap). */
  readonly lastSeq: number;
  readonly bundles: number;
  /** Bundles whose signature was verified in this scan (those after the verified head). */
  readonly verifiedNow: number;
  /** Bundles up to the verified head: their hash links re-checked, signatures not again. */
  readonly linkChecked: number;
  readonly detail: string;
}

/** One bundle as the scan hands it on: parsed, with its hash and the time it was received. */
export type Visit = (bundle: EvidenceBundle, receivedAt: string, hash: string) => void;

const PAGE = 1000;

/**
 * Reads one appliance's whole chain page by page, never holding more than a page, and hands
 * each bundle to `visit` in order. Bundles up to the verified head an earlier packet stored were
 * verified in full then: each is re-hashed and its link to the one before checked, ending on the
 * head's pinned hash, so any change to a stored bundle still breaks the chain, at the cost of a
 * SHA-256 instead of a signature verification. Bundles after the head are verified in full
 * (audience, signature, position, link: protocol verifyChain). When the whole chain verifies,
 * the head moves to its end. A break is reported with its seq; the bundles after it are still
 * counted where they parse, as before, but the head does not move.
 *
 * Known limit: below the head the signed content is re-checked, not the stored signature bytes
 * (they verified when the head was stored); a signature changed afterwards in the database is
 * caught by the export's verifier, not by the next packet.
 */
export async function scanChain(
  store: Store,
  opts: {
    readonly tenantId: string;
    readonly applianceId: string;
    readonly key: VerificationKey;
    /** The control plane's key: signs the stored head and checks it on the next scan. */
    readonly signer: Signer;
    readonly now: () => Date;
    /** Called after each page with the last seq read. */
    readonly progress?: (seq: number) => void;
  },
  visit: Visit,
): Promise<ChainScan> {
  const { tenantId, applianceId } = opts;
  const pinned = await trustedHead(store, opts);
  let head: ChainHead = GENESIS_HEAD;
  let broken: string | null = null;
  let bundles = 0;
  let verifiedNow = 0;
  let linkChecked = 0;
  let lastSeq = 0;
  const breakAt = (seq: number, why: string) => {
    broken ??= `BROKEN at seq ${seq}: ${why}`;
  };
  // After a break nothing more is verified; what still parses is counted, as before.
  const visitUnverified = (json: string, receivedAt: string) => {
    const parsed = EvidenceBundle.safeParse(safeJson(json));
    if (parsed.success) visit(parsed.data, receivedAt, bundleHash(parsed.data));
  };

  for (let after = 0; ; ) {
    const page = await store.listEvidenceForArchive(tenantId, applianceId, after, PAGE);
    let i = 0;
    // Up to the verified head: hash links only.
    for (; i < page.length && broken === null; i++) {
      const row = page[i];
      if (!row || !pinned || row.seq > pinned.seq) break;
      const bundle = safeJson(row.bundleJson) as EvidenceBundle | undefined;
      let hash: string;
      try {
        if (typeof bundle !== "object" || bundle === null) throw new TypeError("not an object");
        hash = bundleHash(bundle);
      } catch {
        breakAt(row.seq, "malformed");
        break;
      }
      if (bundle.seq !== head.seq + 1 || bundle.prev_hash !== head.hash) {
        breakAt(row.seq, `wrong_prev_hash: does not link to bundle ${head.seq}`);
        break;
      }
      if (bundle.seq === pinned.seq && hash !== pinned.hash) {
        breakAt(row.seq, "differs from the bundle verified before");
        break;
      }
      head = { seq: bundle.seq, hash };
      linkChecked++;
      bundles++;
      visit(bundle, row.receivedAt, hash);
    }
    // After the head: in full.
    const rest = page.slice(i);
    if (broken === null && rest.length > 0) {
      const raw = rest.map((r) => safeJson(r.bundleJson));
      const verdict = verifyChain(raw, {
        key: opts.key,
        tenantId,
        applianceId,
        from: head,
      });
      const good = verdict.ok ? raw.length : verdict.count;
      for (let k = 0; k < good; k++) {
        const bundle = EvidenceBundle.parse(raw[k]);
        bundles++;
        visit(bundle, rest[k]?.receivedAt ?? "", bundleHash(bundle));
      }
      verifiedNow += good;
      if (verdict.ok) head = verdict.head;
      else {
        breakAt(verdict.break.seq ?? rest[good]?.seq ?? head.seq + 1, verdict.break.reason);
        for (const r of rest.slice(good)) {
          bundles++;
          visitUnverified(r.bundleJson, r.receivedAt);
        }
      }
    } else if (broken !== null) {
      for (const r of page.slice(i)) {
        bundles++;
        visitUnverified(r.bundleJson, r.receivedAt);
      }
    }
    const last = page.at(-1);
    if (last) {
      lastSeq = last.seq;
      opts.progress?.(last.seq);
    }
    if (page.length < PAGE) break;
    after = last?.seq ?? after;
  }

  if (broken === null && pinned && head.seq < pinned.seq)
    broken = `BROKEN: chain ends at seq ${head.seq}, before the verified head at seq ${pinned.seq}`;
  if (broken !== null)
    return { ok: false, lastSeq, bundles, verifiedNow, linkChecked, detail: broken };
  if (head.seq > (pinned?.seq ?? 0)) {
    const doc = signDocument<VerifiedHead>(
      VerifiedHead,
      {
        v: 1,
        type: "verified_head",
        tenant_id: tenantId,
        appliance_id: applianceId,
        seq: head.seq,
        hash: head.hash,
        verified_at: opts.now().toISOString(),
      },
      opts.signer,
    );
    await store.putVerifiedHead({
      tenantId,
      applianceId,
      seq: head.seq,
      headJson: JSON.stringify(doc),
    });
  }
  const detail =
    linkChecked > 0
      ? `${bundles} bundles: ${verifiedNow} verified in full now; seq 1..${linkChecked} verified in full before (to the signed verified head), their hash links checked again`
      : `${bundles} bundles verified from genesis`;
  return { ok: true, lastSeq, bundles, verifiedNow, linkChecked, detail };
}

/** The stored head, if its signature is the control plane's and it names this appliance. */
async function trustedHead(
  store: Store,
  opts: { tenantId: string; applianceId: string; signer: Signer },
): Promise<ChainHead | null> {
  const row = await store.getVerifiedHead(opts.tenantId, opts.applianceId);
  if (!row) return null;
  const parsed = VerifiedHead.safeParse(safeJson(row.headJson));
  if (!parsed.success) return null;
  const doc = parsed.data;
  if (doc.tenant_id !== opts.tenantId || doc.appliance_id !== opts.applianceId) return null;
  if (!verifyDocument(doc, verificationKey(opts.signer.publicKey))) return null;
  return { seq: doc.seq, hash: doc.hash };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
