import { z } from "zod";
import {
  bundleHash,
  type ChainHead,
  EvidenceBundle,
  EvidenceReceipt,
  EvidenceUpload,
  MAX_BUNDLES_PER_UPLOAD,
  publicKeyFromBase64,
  signDocument,
  signingBytes,
  tryParseMessage,
  type VerificationKey,
  verificationKey,
  verifyChain,
  verifyDocument,
} from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { ApplianceRecord, EvidenceRow } from "../../store/index.ts";
import { findClockSkew, flagClockSkew } from "./clock-skew.ts";
import { applianceRoute } from "./contract.ts";
import { witnessCosignatures } from "./cosignatures.ts";
import { sameIdentity } from "./identity.ts";

/**
 * Evidence ingest (docs/architecture.md, trust model "Evidence"): every bundle is verified against
 * the appliance key recorded at enrollment and continues the stored chain head, then stored
 * and receipted with a signed EvidenceReceipt. Idempotent: bundles already stored are accepted
 * again when identical. A gap asks for `expected_seq`; a fork or a bad signature is refused and
 * raises an alert on the site.
 */
/**
 * The upload envelope, with bundles left unparsed: verifyChain parses each bundle strictly
 * itself, so parsing them here too would only double the cost of every upload.
 */
const UploadEnvelope = EvidenceUpload.extend({
  bundles: z.array(z.unknown()).min(1).max(MAX_BUNDLES_PER_UPLOAD),
});

const claimedSeq = (raw: unknown): number => {
  const seq = typeof raw === "object" && raw !== null ? (raw as { seq?: unknown }).seq : undefined;
  return typeof seq === "number" ? seq : Number.POSITIVE_INFINITY;
};

export function evidenceRoute(s: Services) {
  const keys = new Map<string, VerificationKey>();
  const keyOf = (a: ApplianceRecord): VerificationKey => {
    const raw = a.evidencePublicKey as string;
    let key = keys.get(raw);
    if (!key) {
      key = verificationKey(publicKeyFromBase64(raw));
      if (keys.size > 100_000) keys.clear();
      keys.set(raw, key);
    }
    return key;
  };

  return applianceRoute("evidence", {
    summary: "Upload evidence bundles; answered with a signed receipt",
    bodyLabel: "evidence upload",
    body: UploadEnvelope,
    handler: async (c, upload) => {
      let appliance = c.get("appliance");
      sameIdentity(appliance, upload);
      const key = keyOf(appliance);
      // One retry: a concurrent upload may have moved the head between our read and our write.
      for (let attempt = 0; ; attempt++) {
        const result = await ingest(s, appliance, key, upload.bundles);
        if (result !== "conflict") {
          s.metrics.inc(
            "cp_evidence_bundles_total",
            "Evidence bundles verified and stored.",
            result.stored,
          );
          return c.json(result.receipt);
        }
        const fresh = await s.store.getAppliance(appliance.tenantId, appliance.applianceId);
        if (!fresh || attempt >= 1) {
          throw new ControlPlaneError("evidence_gap", "the chain head moved; resend", {
            expected_seq: (fresh?.evidenceHead.seq ?? appliance.evidenceHead.seq) + 1,
          });
        }
        appliance = fresh;
      }
    },
  });
}

async function ingest(
  s: Services,
  appliance: ApplianceRecord,
  key: VerificationKey,
  bundles: readonly unknown[],
): Promise<"conflict" | { receipt: EvidenceReceipt; stored: number }> {
  const { tenantId, applianceId } = appliance;
  const head = appliance.evidenceHead;
  const alert = async (code: string, detail: string) => {
    await s.store.recordAlert({
      tenantId,
      applianceId,
      code,
      detail,
      createdAt: s.now().toISOString(),
    });
    s.logger.log("warn", "evidence refused", {
      tenant_id: tenantId,
      appliance_id: applianceId,
      code,
    });
  };

  // 1. Bundles at or below the stored head: a retry. They must be identical to what is stored.
  let split = 0;
  while (split < bundles.length && claimedSeq(bundles[split]) <= head.seq) split++;
  const resent = bundles.slice(0, split).map((raw) => {
    const parsed = tryParseMessage(EvidenceBundle, raw);
    if (!parsed.ok) throw new ControlPlaneError("evidence_invalid", parsed.problem);
    return parsed.value;
  });
  // Parsed and verified by verifyChain below; typed once it said ok.
  const fresh = bundles.slice(split) as EvidenceBundle[];
  if (resent.length > 0) {
    const first = (resent[0] as EvidenceBundle).seq;
    const consecutive = resent.every((b, i) => b.seq === first + i);
    if (!consecutive || (fresh.length > 0 && first + resent.length - 1 !== head.seq)) {
      throw new ControlPlaneError("evidence_invalid", "bundles must be consecutive, oldest first");
    }
    const stored = await s.store.evidenceHashes(
      tenantId,
      applianceId,
      first,
      first + resent.length - 1,
    );
    for (const bundle of resent) {
      if (bundle.tenant_id !== tenantId || bundle.appliance_id !== applianceId) {
        throw new ControlPlaneError("forbidden", "a bundle names another tenant or appliance");
      }
      const bytes = signingBytes(bundle);
      if (!verifyDocument(bundle, key, bytes)) {
        await alert("evidence_bad_signature", `seq ${bundle.seq}: signature does not verify`);
        throw new ControlPlaneError(
          "evidence_bad_signature",
          `seq ${bundle.seq}: signature does not verify`,
        );
      }
      if (stored.get(bundle.seq) !== bundleHash(bundle)) {
        await alert("evidence_fork", `seq ${bundle.seq} differs from the stored bundle`);
        throw new ControlPlaneError(
          "evidence_fork",
          `seq ${bundle.seq} differs from the stored bundle`,
        );
      }
    }
  }

  // 2. New bundles continue the stored head: full chain verification from it.
  const rows: EvidenceRow[] = [];
  let last: ChainHead = head;
  if (fresh.length > 0) {
    const verdict = verifyChain(fresh, { key, tenantId, applianceId, from: head });
    if (!verdict.ok) return refuse(verdict.break, head, alert);
    // verifyChain checked every link, so bundle i's hash is bundle i+1's prev_hash and the last
    // one is the verdict's head: no second canonicalization.
    for (const [i, bundle] of fresh.entries()) {
      const next = fresh[i + 1];
      rows.push({
        seq: bundle.seq,
        hash: next ? next.prev_hash : verdict.head.hash,
        prevHash: bundle.prev_hash,
        bundleJson: JSON.stringify(bundle),
      });
    }
    last = verdict.head;
    const now = s.now();
    const previousRecordedAt = await recordedAtOf(s, appliance, head.seq);
    const witnessed = witnessCosignatures({ tenantId, applianceId }, key, fresh, now.toISOString());
    const appended = await s.store.appendEvidence(
      tenantId,
      applianceId,
      head,
      rows,
      now.toISOString(),
      witnessed.rows,
    );
    if (!appended) return "conflict";
    for (const detail of witnessed.refused) await alert("cosignature_bad_signature", detail);
    // Stored first: the timestamp is the appliance's claim, flagged, never a reason to refuse.
    await flagClockSkew(s, appliance, findClockSkew(fresh, previousRecordedAt, now), now);
  } else {
    const lastResent = resent.at(-1) as EvidenceBundle;
    last = { seq: lastResent.seq, hash: bundleHash(lastResent) };
  }

  const receipt = signDocument<EvidenceReceipt>(
    EvidenceReceipt,
    {
      v: 1,
      type: "evidence_receipt",
      receipt_id: crypto.randomUUID(),
      tenant_id: tenantId,
      appliance_id: applianceId,
      first_seq: (resent[0] ?? (fresh[0] as EvidenceBundle)).seq,
      last_seq: last.seq,
      last_hash: last.hash,
      received_at: s.now().toISOString(),
    },
    s.signer,
  );
  return { receipt, stored: rows.length };
}

/** The stored bundle `seq`'s recorded_at (undefined at genesis). */
async function recordedAtOf(
  s: Services,
  appliance: ApplianceRecord,
  seq: number,
): Promise<string | undefined> {
  if (seq === 0) return undefined;
  const [row] = await s.store.listEvidence(appliance.tenantId, appliance.applianceId, seq - 1, 1);
  if (!row || row.seq !== seq) return undefined;
  return (JSON.parse(row.bundleJson) as { recorded_at?: string }).recorded_at;
}

async function refuse(
  brk: { index: number; reason: string; detail: string },
  head: ChainHead,
  alert: (code: string, detail: string) => Promise<void>,
): Promise<never> {
  switch (brk.reason) {
    case "sequence_gap":
      throw new ControlPlaneError("evidence_gap", brk.detail, { expected_seq: head.seq + 1 });
    case "bad_signature":
      await alert("evidence_bad_signature", brk.detail);
      throw new ControlPlaneError("evidence_bad_signature", brk.detail);
    case "fork":
    case "wrong_prev_hash":
      await alert("evidence_fork", brk.detail);
      throw new ControlPlaneError("evidence_fork", brk.detail);
    case "wrong_tenant":
    case "wrong_appliance":
      throw new ControlPlaneError("forbidden", "a bundle names another tenant or appliance");
    default:
      throw new ControlPlaneError("evidence_invalid", brk.detail);
  }
}
