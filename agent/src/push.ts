import {
  APPLIANCE_API,
  EvidenceBundle,
  EvidenceReceipt,
  MAX_BUNDLES_PER_UPLOAD,
  tryParseMessage,
  type VerificationKey,
  verifyDocument,
} from "#protocol";
import { clip } from "./clip.ts";
import { AgentError } from "./errors.ts";
import { type Journal, type JournalIdentity, type RawBundle, REFUSED_ALERT } from "./journal.ts";
import type { Clock } from "./ports.ts";
import type { Transport } from "./transport.ts";

/**
 * Pushes the unreceipted bundles in sequence order, in batches, and keeps each signed receipt
 * after checking it is from the pinned control-plane key and covers what was sent (the hash of
 * the last covered bundle must be ours). A 409 `evidence_gap` problem resends from the
 * `expected_seq` the control plane names, if those bundles are still here. A 422 narrows the
 * batch to the bundle refused, which is then replaced by a signed `evidence_refused` alert
 * (Journal.replaceRefused), so one bad bundle never stops the queue. Returns how many
 * bundles were receipted; throws AgentError when the control plane cannot be reached.
 */
export interface PushDeps {
  readonly journal: Journal;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly identity: JournalIdentity;
  readonly pinnedKey: VerificationKey;
  readonly batchMax: number;
}

const MAX_GAP_RESENDS = 3;

export async function pushEvidence(deps: PushDeps, signal: AbortSignal): Promise<number> {
  const { journal, identity } = deps;
  const batchSize = Math.max(1, Math.min(deps.batchMax, MAX_BUNDLES_PER_UPLOAD));
  let cursor = journal.receiptedSeq() + 1;
  let receipted = 0;
  let gapResends = 0;
  // Narrowed after a refusal until the refused bundle is found; back to batchSize after a receipt.
  let size = batchSize;
  while (!signal.aborted && cursor <= journal.head().seq) {
    const batch = journal.rawBundlesFrom(cursor, size);
    const first = batch[0];
    const last = batch.at(-1);
    if (!first || !last || first.seq !== cursor) {
      alert(deps, "evidence_unavailable", `bundle ${cursor} is no longer in the local journal`);
      return receipted;
    }
    // The stored JSON of each bundle is exactly what was sealed; the envelope is built around it.
    const envelope = JSON.stringify({
      v: 1,
      type: "evidence_upload",
      tenant_id: identity.tenantId,
      appliance_id: identity.applianceId,
      bundles: [],
    });
    const rawJson = `${envelope.slice(0, -2)}${batch.map((b) => b.json).join(",")}]}`;
    const answer = await deps.transport.post(APPLIANCE_API.evidence, { rawJson }, signal);
    if (!answer.ok) {
      const problem = answer.problem;
      if (answer.status === 409 && problem?.code === "evidence_gap" && problem.expected_seq) {
        const expected = problem.expected_seq;
        if (expected > cursor || ++gapResends > MAX_GAP_RESENDS) {
          alert(
            deps,
            "evidence_gap_unresolved",
            `control plane expects seq ${expected}, sent ${cursor}`,
          );
          return receipted;
        }
        cursor = expected;
        continue;
      }
      if (answer.status === 422) {
        const refused = refusedAt(batch, deps);
        if (refused > 0 || (refused < 0 && batch.length > 1)) {
          // Send what the control plane can take first: up to the bundle that fails the schema
          // here, or half the batch until the one it refuses is alone.
          size = refused > 0 ? refused : Math.ceil(batch.length / 2);
          continue;
        }
        if (isRefusalAlert(first.json)) {
          throw new AgentError("bad_response", `evidence upload answered 422 for bundle ${cursor}`);
        }
        // The control plane will never take this bundle: it is replaced by a signed alert saying
        // why (the chain after it is sealed again), so the queue moves on instead of growing.
        journal.replaceRefused(first.seq, clip(problem?.detail ?? problem?.code ?? "422", 400));
        continue;
      }
      throw new AgentError(
        answer.status >= 500 || answer.status === 429 ? "unreachable" : "bad_response",
        `evidence upload answered ${answer.status} ${problem?.code ?? ""}`.trim(),
      );
    }
    const receipt = checkReceipt(answer.body, deps, first.seq, last.seq);
    journal.storeReceipt(receipt);
    size = batchSize;
    receipted += receipt.last_seq - first.seq + 1;
    cursor = receipt.last_seq + 1;
  }
  return receipted;
}

function checkReceipt(raw: unknown, deps: PushDeps, firstSent: number, lastSent: number) {
  const parsed = tryParseMessage(EvidenceReceipt, raw);
  if (!parsed.ok) throw new AgentError("bad_response", `receipt is invalid:\n${parsed.problem}`);
  const receipt = parsed.value;
  if (!verifyDocument(receipt, deps.pinnedKey)) {
    throw new AgentError("untrusted_response", "receipt is not signed by the pinned key");
  }
  if (
    receipt.tenant_id !== deps.identity.tenantId ||
    receipt.appliance_id !== deps.identity.applianceId
  ) {
    throw new AgentError("untrusted_response", "receipt names another appliance");
  }
  if (
    receipt.first_seq > firstSent ||
    receipt.last_seq < firstSent ||
    receipt.last_seq > lastSent
  ) {
    throw new AgentError(
      "untrusted_response",
      `receipt covers ${receipt.first_seq}..${receipt.last_seq}, sent ${firstSent}..${lastSent}`,
    );
  }
  if (deps.journal.hashAt(receipt.last_seq) !== receipt.last_hash) {
    throw new AgentError(
      "untrusted_response",
      `receipt hash differs from bundle ${receipt.last_seq}`,
    );
  }
  return receipt;
}

/** The index of the first bundle of the batch the ingest schema refuses here, or -1. */
function refusedAt(batch: readonly RawBundle[], deps: PushDeps): number {
  return batch.findIndex((b) => {
    const parsed = tryParseMessage(EvidenceBundle, JSON.parse(b.json));
    return (
      !parsed.ok ||
      parsed.value.tenant_id !== deps.identity.tenantId ||
      parsed.value.appliance_id !== deps.identity.applianceId
    );
  });
}

const isRefusalAlert = (json: string): boolean => {
  const event = (JSON.parse(json) as EvidenceBundle).event;
  return event.kind === "alert" && event.code === REFUSED_ALERT;
};

function alert(deps: PushDeps, code: string, message: string): void {
  deps.journal.append(
    [{ kind: "alert", code, severity: "high", subject: "evidence_push", message }],
    deps.clock.now(),
  );
}
