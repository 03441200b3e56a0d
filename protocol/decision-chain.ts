import { sha256Hex } from "./encoding.ts";
import { GENESIS_HEAD } from "./evidence-chain.ts";
import { tryParseMessage } from "./parse.ts";
import type { ChainHead } from "./schemas/common.ts";
import { DecisionRecord } from "./schemas/decision.ts";
import {
  type Signer,
  signingBytes,
  signWithBytes,
  type VerificationKey,
  verifyDocument,
} from "./signed-document.ts";

export type DecisionDraft = Omit<DecisionRecord, "v" | "type" | "seq" | "prev_hash" | "sig">;

/**
 * The control plane's decision chain per appliance, built like the appliance's evidence chain:
 * record n carries seq n and the hash of record n-1 (SHA-256 over the signed canonical bytes),
 * signed with the control plane's order-signing key.
 */
export function sealDecision(
  draft: DecisionDraft,
  prev: ChainHead,
  signer: Signer,
): { record: DecisionRecord; head: ChainHead } {
  const unsigned = {
    v: 1 as const,
    type: "decision_record" as const,
    ...draft,
    seq: prev.seq + 1,
    prev_hash: prev.hash,
  };
  const { document, bytes } = signWithBytes<DecisionRecord>(DecisionRecord, unsigned, signer);
  return { record: document, head: { seq: unsigned.seq, hash: sha256Hex(bytes) } };
}

export type DecisionChainVerdict =
  | { readonly ok: true; readonly head: ChainHead; readonly count: number }
  | { readonly ok: false; readonly index: number; readonly detail: string };

/** Verifies a run of decision records from `from` (genesis by default), first break reported. */
export function verifyDecisionChain(
  records: readonly unknown[],
  options: {
    readonly key: VerificationKey;
    readonly tenantId: string;
    readonly applianceId: string;
    readonly from?: ChainHead;
  },
): DecisionChainVerdict {
  let head = options.from ?? GENESIS_HEAD;
  for (const [index, raw] of records.entries()) {
    const parsed = tryParseMessage(DecisionRecord, raw);
    if (!parsed.ok) return { ok: false, index, detail: parsed.problem };
    const record = parsed.value;
    if (record.tenant_id !== options.tenantId || record.appliance_id !== options.applianceId) {
      return { ok: false, index, detail: "record of another appliance" };
    }
    const bytes = signingBytes(record);
    if (!verifyDocument(record, options.key, bytes)) {
      return { ok: false, index, detail: "signature does not verify with the control-plane key" };
    }
    if (record.seq !== head.seq + 1 || record.prev_hash !== head.hash) {
      return { ok: false, index, detail: `seq ${record.seq} does not follow ${head.seq}` };
    }
    head = { seq: record.seq, hash: sha256Hex(bytes) };
  }
  return { ok: true, head, count: records.length };
}
