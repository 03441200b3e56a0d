import {
  type EvidenceEvent,
  type VerificationKey,
  type VerifiedCheckpoint,
  verifyCheckpointDelivery,
} from "#protocol";
import type { Journal, JournalIdentity } from "./journal.ts";

/**
 * The appliance's side of the Merkle log: a poll response may carry the latest signed
 * checkpoint of this appliance's evidence with a consistency proof from the last checkpoint the
 * appliance verified. It is verified with protocol/ (pinned key, audience, no rollback,
 * RFC 9162 consistency, inclusion of our own bundle at its tree size). Accepted: it becomes the
 * new "last verified" state and a `checkpoint_verified` bundle. Refused: an alert bundle, and the
 * state stays, so an inconsistent or rolled-back checkpoint is never silently accepted; the
 * control plane sees the alert in the evidence it receives next, and so does an auditor.
 */
export const LAST_CHECKPOINT = "last_verified_checkpoint";

export function lastVerifiedCheckpoint(journal: Journal): VerifiedCheckpoint | undefined {
  const raw = journal.getState(LAST_CHECKPOINT);
  return raw === undefined ? undefined : (JSON.parse(raw) as VerifiedCheckpoint);
}

/** Judges a delivered checkpoint; call inside the poll's journal transaction. */
export function recordCheckpoint(
  journal: Journal,
  delivery: unknown,
  deps: { identity: JournalIdentity; pinnedKey: VerificationKey; now: Date },
): EvidenceEvent {
  const verdict = verifyCheckpointDelivery(delivery, {
    key: deps.pinnedKey,
    tenantId: deps.identity.tenantId,
    applianceId: deps.identity.applianceId,
    last: lastVerifiedCheckpoint(journal),
    bundleHashAt: (seq) => journal.hashAt(seq),
  });
  let event: EvidenceEvent;
  if (verdict.ok) {
    const cp = verdict.checkpoint;
    journal.setState(
      LAST_CHECKPOINT,
      JSON.stringify({
        treeSize: cp.tree_size,
        rootHash: cp.root_hash,
      } satisfies VerifiedCheckpoint),
    );
    event = {
      kind: "checkpoint_verified",
      tree_size: cp.tree_size,
      root_hash: cp.root_hash,
      issued_at: cp.issued_at,
      from_size: verdict.fromSize,
    };
  } else {
    const severe = verdict.reason === "inconsistent" || verdict.reason === "rollback";
    const claimed = verdict.claimed;
    event = {
      kind: "alert",
      code: `checkpoint_${verdict.reason}`,
      severity: severe ? "critical" : "high",
      subject: claimed ? `checkpoint ${claimed.tree_size} ${claimed.root_hash}` : "checkpoint",
      message: verdict.detail.slice(0, 500),
    };
  }
  journal.append([event], deps.now);
  return event;
}
