import { canonicalBytes, GENESIS_HEAD, sha256Hex } from "#protocol";
import type { AuditEntry, Store } from "./store/index.ts";

/**
 * The operator audit log: every operator and admin action, hash-chained like evidence. Entry n
 * stores SHA-256 over the RFC 8785 canonical JSON of {seq, at, actor, action, target, detail,
 * prev_hash}, so rewriting or dropping any entry breaks every later hash.
 */
export interface AuditLog {
  record(
    actor: string,
    action: string,
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<AuditEntry>;
}

export function auditHash(e: Omit<AuditEntry, "hash">): string {
  return sha256Hex(
    canonicalBytes({
      seq: e.seq,
      at: e.at,
      actor: e.actor,
      action: e.action,
      target: e.target,
      detail: JSON.parse(e.detailJson),
      prev_hash: e.prevHash,
    }),
  );
}

export function createAuditLog(store: Store, now: () => Date): AuditLog {
  return {
    record(actor, action, target, detail = {}) {
      const entry = {
        at: now().toISOString(),
        actor,
        action,
        target,
        detailJson: JSON.stringify(detail),
      };
      return store.appendAudit(entry, (seq, prevHash) => auditHash({ ...entry, seq, prevHash }));
    },
  };
}

/** Verifies a run of entries from the start; returns the first broken seq or null. */
export function verifyAuditChain(entries: readonly AuditEntry[]): number | null {
  let prev = GENESIS_HEAD.hash;
  let seq = 0;
  for (const e of entries) {
    if (e.seq !== seq + 1 || e.prevHash !== prev || auditHash(e) !== e.hash) return e.seq;
    prev = e.hash;
    seq = e.seq;
  }
  return null;
}
