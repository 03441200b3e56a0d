import {
  cosignCheckpoint,
  type EvidenceEvent,
  type Signer,
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
 *
 * The appliance is also the log's witness: each checkpoint it accepts it cosigns with its
 * evidence key (C2SP tlog-cosignature, protocol/cosignature.ts), inside the checkpoint_verified
 * bundle the control plane stores and exports, so a forked log would need this appliance's key.
 * And it watches for a freeze: when the newest checkpoint it verified is older than a bound while
 * its own log has grown past it, it raises a `checkpoint_stale` alert (once per checkpoint).
 */
export const LAST_CHECKPOINT = "last_verified_checkpoint";
const LAST_CHECKPOINT_ISSUED_AT = "last_verified_checkpoint_issued_at";
const STALE_ALERTED_FOR = "checkpoint_stale_alerted_for";
/** The default bound on the age of the newest checkpoint while the log grows. */
export const CHECKPOINT_FRESHNESS_MS = 24 * 60 * 60 * 1000;

export function lastVerifiedCheckpoint(journal: Journal): VerifiedCheckpoint | undefined {
  const raw = journal.getState(LAST_CHECKPOINT);
  return raw === undefined ? undefined : (JSON.parse(raw) as VerifiedCheckpoint);
}

/** Judges a delivered checkpoint; call inside the poll's journal transaction. */
export function recordCheckpoint(
  journal: Journal,
  delivery: unknown,
  deps: {
    identity: JournalIdentity;
    pinnedKey: VerificationKey;
    now: Date;
    /** The evidence key, which cosigns each accepted checkpoint as a witness. */
    cosigner?: Pick<Signer, "publicKey" | "sign">;
  },
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
    journal.setState(LAST_CHECKPOINT_ISSUED_AT, cp.issued_at);
    event = {
      kind: "checkpoint_verified",
      tree_size: cp.tree_size,
      root_hash: cp.root_hash,
      issued_at: cp.issued_at,
      from_size: verdict.fromSize,
      ...(deps.cosigner
        ? {
            cosignature: cosignCheckpoint(cp, deps.cosigner, Math.floor(deps.now.getTime() / 1000)),
          }
        : {}),
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

/**
 * The freeze check, after each accepted poll: a `checkpoint_stale` alert when the newest
 * checkpoint verified was issued more than `boundMs` ago and this appliance's log has grown past
 * it (a control plane withholding checkpoints, so the log can no longer be witnessed). Raised
 * once per checkpoint; a newer checkpoint clears it.
 */
export function checkCheckpointFreshness(
  journal: Journal,
  now: Date,
  boundMs: number = CHECKPOINT_FRESHNESS_MS,
): EvidenceEvent | undefined {
  const last = lastVerifiedCheckpoint(journal);
  const issuedAt = journal.getState(LAST_CHECKPOINT_ISSUED_AT);
  if (!last || issuedAt === undefined) return undefined;
  if (journal.head().seq <= last.treeSize) return undefined;
  const age = now.getTime() - Date.parse(issuedAt);
  if (!(age > boundMs)) return undefined;
  if (journal.getState(STALE_ALERTED_FOR) === String(last.treeSize)) return undefined;
  journal.setState(STALE_ALERTED_FOR, String(last.treeSize));
  const event: EvidenceEvent = {
    kind: "alert",
    code: "checkpoint_stale",
    severity: "high",
    subject: `checkpoint ${last.treeSize} ${last.rootHash}`,
    message: `the newest checkpoint of this log was issued ${issuedAt}, over ${Math.round(boundMs / 3_600_000)} h ago, while the log has grown to ${journal.head().seq}: the control plane may be withholding checkpoints (freeze)`,
  };
  journal.append([event], now);
  return event;
}
