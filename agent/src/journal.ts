import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type BundleDraft,
  type ChainHead,
  type EvidenceBundle,
  type EvidenceEvent,
  type EvidenceReceipt,
  GENESIS_HEAD,
  ProtocolError,
  type SealedBundle,
  type Signer,
  sealBundle,
} from "#protocol";
import { clip } from "./clip.ts";
import { AgentError } from "./errors.ts";

/**
 * The evidence journal: every event becomes a sealed bundle committed to SQLite (WAL,
 * synchronous=FULL) before append() returns, so an acknowledged event survives a crash or power
 * loss, and the chain head is updated in the same transaction (a torn chain is impossible). The
 * same database keeps the signed receipts, the order-sequence state and the outbox of reports.
 */
export interface JournalIdentity {
  readonly tenantId: string;
  readonly applianceId: string;
}

export interface RawBundle {
  readonly seq: number;
  readonly hash: string;
  /** The bundle exactly as JSON.stringify wrote it when it was sealed. */
  readonly json: string;
}

export interface StoredBundle {
  readonly seq: number;
  readonly hash: string;
  readonly bundle: EvidenceBundle;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bundles (
  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, recorded_at TEXT NOT NULL, body TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS receipts (
  receipt_id TEXT PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  body TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS seen_orders (order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS refused_bundles (
  seq INTEGER NOT NULL, hash TEXT PRIMARY KEY, reason TEXT NOT NULL, body TEXT NOT NULL
) STRICT;
`;

/** The alert sealed in place of evidence the protocol's ingest schema refuses. */
export const UNSEALABLE_ALERT = "evidence_unsealable";
/** The alert sealed in place of a bundle the control plane refused (422). */
export const REFUSED_ALERT = "evidence_refused";

/** How many order ids are remembered for the replay check; older ones fail the sequence check. */
const SEEN_ORDER_IDS_KEPT = 10_000;

export interface OutboxItem {
  readonly id: number;
  readonly kind: string;
  readonly body: unknown;
}

export interface Journal {
  head(): ChainHead;
  /**
   * Seals and durably commits the events, in one transaction; returns the sealed bundles.
   * Events may fill only 90 % of `maxBytes`; `reserve` lets an alert use the rest.
   */
  append(
    events: readonly EvidenceEvent[],
    recordedAt: Date,
    options?: { reserve?: boolean },
  ): SealedBundle[];
  /** Runs `work` and the appends it makes in one transaction (all or nothing). */
  transaction<T>(work: () => T): T;
  /** The highest seq covered without gap by stored receipts. */
  receiptedSeq(): number;
  bundlesFrom(seq: number, limit: number): StoredBundle[];
  /** The same rows as stored JSON text, for pushing without parsing and re-serializing. */
  rawBundlesFrom(seq: number, limit: number): RawBundle[];
  hashAt(seq: number): string | undefined;
  backlog(): number;
  storeReceipt(receipt: EvidenceReceipt): void;
  receipts(): EvidenceReceipt[];
  getState(key: string): string | undefined;
  setState(key: string, value: string): void;
  rememberOrders(orders: readonly { id: string; seq: number }[]): void;
  hasSeenOrder(orderId: string): boolean;
  enqueue(kind: string, body: unknown): void;
  outbox(limit: number): OutboxItem[];
  dequeue(id: number): void;
  /**
   * The control plane refused the unreceipted bundle `seq` as invalid: it is moved to
   * `refused_bundles`, an `evidence_refused` alert naming its hash and the reason takes its place
   * in the chain, and every bundle after it is sealed again on the new chain, in one transaction.
   * Nothing the control plane holds changes (it refused the bundle, so its head is below `seq`).
   */
  replaceRefused(seq: number, reason: string): void;
  /** The bundles the control plane refused, as they were sealed, with the reason. */
  refusedBundles(): { seq: number; hash: string; reason: string; json: string }[];
  /** Deletes receipted bundles recorded before `cutoff`; the head bundle always stays. */
  prune(cutoff: Date): number;
  close(): void;
}

export interface JournalOptions {
  /** Cap on the journal's size; writes beyond it fail as disk_full instead of filling the disk. */
  readonly maxBytes?: number;
}

/** Share of the cap that events may use; the rest keeps receipts, state and alerts writable. */
const EVENT_SHARE = 0.9;

export function openJournal(
  path: string,
  identity: JournalIdentity,
  signer: Signer,
  options: JournalOptions = {},
): Journal {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
  } catch (cause) {
    throw translate(cause, `cannot open the journal ${path}`);
  }
  const q = (sql: string): StatementSync => db.prepare(sql);
  const insertBundle = q("INSERT INTO bundles (seq, hash, recorded_at, body) VALUES (?, ?, ?, ?)");
  const getState = q("SELECT value FROM state WHERE key = ?");
  const setState = q(
    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  const selectFrom = q("SELECT seq, hash, body FROM bundles WHERE seq >= ? ORDER BY seq LIMIT ?");
  const selectHash = q("SELECT hash FROM bundles WHERE seq = ?");
  let depth = 0;
  const pageSize = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
  const fullPages = options.maxBytes ? Math.max(16, Math.floor(options.maxBytes / pageSize)) : 0;
  const eventPages = Math.floor(fullPages * EVENT_SHARE);
  let currentLimit = -1;
  const limitPages = (pages: number) => {
    if (fullPages === 0 || pages === currentLimit) return;
    // An integer we computed; SQLite keeps the limit at least at the current size.
    db.exec(`PRAGMA max_page_count = ${Math.trunc(pages)}`);
    currentLimit = pages;
  };

  const state = (key: string) => (getState.get(key) as { value: string } | undefined)?.value;
  const head = (): ChainHead => {
    const raw = state("head");
    return raw === undefined ? GENESIS_HEAD : (JSON.parse(raw) as ChainHead);
  };

  const transaction = <T>(work: () => T, pages = fullPages): T => {
    if (depth > 0) return work();
    depth++;
    try {
      limitPages(pages);
      db.exec("BEGIN IMMEDIATE");
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw translate(error, "journal transaction failed");
    } finally {
      depth--;
    }
  };

  const appendNow = (
    events: readonly EvidenceEvent[],
    recordedAt: Date,
    appendOptions?: { reserve?: boolean },
  ): SealedBundle[] => {
    if (events.length === 0) return [];
    return transaction(
      () => {
        let current = head();
        const sealed: SealedBundle[] = [];
        const recorded_at = recordedAt.toISOString();
        for (const event of events) {
          const next = sealChecked(
            {
              tenant_id: identity.tenantId,
              appliance_id: identity.applianceId,
              recorded_at,
              event,
            },
            current,
            signer,
          );
          insertBundle.run(next.head.seq, next.head.hash, recorded_at, JSON.stringify(next.bundle));
          sealed.push(next);
          current = next.head;
        }
        setState.run("head", JSON.stringify(current));
        return sealed;
      },
      appendOptions?.reserve ? fullPages : eventPages,
    );
  };

  const replaceRefused = (seq: number, reason: string): void =>
    transaction(() => {
      const receipted = Number(state("receipted_seq") ?? "0");
      if (seq <= receipted) {
        throw new AgentError(
          "journal_failure",
          `bundle ${seq} is receipted; it cannot be replaced`,
        );
      }
      const page = q("SELECT seq, hash, body FROM bundles WHERE seq >= ? ORDER BY seq LIMIT 500");
      const update = q("UPDATE bundles SET hash = ?, body = ? WHERE seq = ?");
      let rows = page.all(seq) as { seq: number; hash: string; body: string }[];
      const refused = rows[0];
      if (refused?.seq !== seq) {
        throw new AgentError("journal_failure", `bundle ${seq} is not in the journal`);
      }
      const original = JSON.parse(refused.body) as EvidenceBundle;
      q("INSERT OR IGNORE INTO refused_bundles (seq, hash, reason, body) VALUES (?, ?, ?, ?)").run(
        seq,
        refused.hash,
        reason,
        refused.body,
      );
      // The refused bundle's own prev_hash is the head before it, even if that bundle was pruned.
      let current: ChainHead = { seq: seq - 1, hash: original.prev_hash };
      const draftOf = (bundle: EvidenceBundle, event: EvidenceEvent): BundleDraft => ({
        tenant_id: identity.tenantId,
        appliance_id: identity.applianceId,
        recorded_at: bundle.recorded_at,
        event,
      });
      while (rows.length > 0) {
        for (const row of rows) {
          const bundle = JSON.parse(row.body) as EvidenceBundle;
          const event: EvidenceEvent =
            row.seq === seq
              ? {
                  kind: "alert",
                  code: REFUSED_ALERT,
                  severity: "high",
                  subject: `bundle ${seq}`,
                  message: clip(
                    `the control plane refused bundle ${seq} (sha256 ${refused.hash}): ${reason}`,
                    500,
                  ),
                }
              : bundle.event;
          const next = sealChecked(draftOf(bundle, event), current, signer);
          update.run(next.head.hash, JSON.stringify(next.bundle), row.seq);
          current = next.head;
        }
        rows = page.all(current.seq + 1) as typeof rows;
      }
      setState.run("head", JSON.stringify(current));
    });

  const pruneBefore = (cutoff: Date): number =>
    transaction(() => {
      const result = q("DELETE FROM bundles WHERE seq <= ? AND seq < ? AND recorded_at < ?").run(
        Number(state("receipted_seq") ?? "0"),
        head().seq,
        cutoff.toISOString(),
      );
      // Receipts go with the bundles they cover; the newest receipt always stays.
      q(
        `DELETE FROM receipts WHERE last_seq < (SELECT MIN(seq) FROM bundles)
           AND last_seq < (SELECT MAX(last_seq) FROM receipts)`,
      ).run();
      return Number(result.changes);
    });

  return {
    head,
    transaction: (work) => transaction(work),
    append(events, recordedAt, appendOptions) {
      try {
        return appendNow(events, recordedAt, appendOptions);
      } catch (error) {
        // Full: receipted bundles are safe at the control plane, so make room with them
        // (whatever the retention) and try once more before refusing the events.
        if (!(error instanceof AgentError && error.code === "disk_full") || depth > 0) throw error;
        // (A year past 9999 would print as "+010000-…" and sort before every timestamp.)
        if (pruneBefore(new Date("9999-12-31T23:59:59.999Z")) === 0) throw error;
        return appendNow(events, recordedAt, appendOptions);
      }
    },
    receiptedSeq: () => Number(state("receipted_seq") ?? "0"),
    bundlesFrom(seq, limit) {
      return (selectFrom.all(seq, limit) as { seq: number; hash: string; body: string }[]).map(
        (row) => ({ seq: row.seq, hash: row.hash, bundle: JSON.parse(row.body) as EvidenceBundle }),
      );
    },
    rawBundlesFrom(seq, limit) {
      return (selectFrom.all(seq, limit) as { seq: number; hash: string; body: string }[]).map(
        (row) => ({ seq: row.seq, hash: row.hash, json: row.body }),
      );
    },
    hashAt: (seq) => (selectHash.get(seq) as { hash: string } | undefined)?.hash,
    backlog() {
      return head().seq - Number(state("receipted_seq") ?? "0");
    },
    storeReceipt(receipt) {
      transaction(() => {
        q(
          "INSERT OR IGNORE INTO receipts (receipt_id, first_seq, last_seq, body) VALUES (?, ?, ?, ?)",
        ).run(receipt.receipt_id, receipt.first_seq, receipt.last_seq, JSON.stringify(receipt));
        const covered = Number(state("receipted_seq") ?? "0");
        if (receipt.first_seq <= covered + 1 && receipt.last_seq > covered) {
          setState.run("receipted_seq", String(receipt.last_seq));
        }
      });
    },
    receipts: () =>
      (q("SELECT body FROM receipts ORDER BY first_seq").all() as { body: string }[]).map(
        (row) => JSON.parse(row.body) as EvidenceReceipt,
      ),
    getState: state,
    setState: (key, value) => {
      transaction(() => setState.run(key, value));
    },
    rememberOrders(orders) {
      transaction(() => {
        const insert = q("INSERT OR IGNORE INTO seen_orders (order_id, seq) VALUES (?, ?)");
        for (const order of orders) insert.run(order.id, order.seq);
        q("DELETE FROM seen_orders WHERE seq <= (SELECT MAX(seq) FROM seen_orders) - ?").run(
          SEEN_ORDER_IDS_KEPT,
        );
      });
    },
    hasSeenOrder: (orderId) =>
      q("SELECT 1 AS hit FROM seen_orders WHERE order_id = ?").get(orderId) !== undefined,
    enqueue(kind, body) {
      transaction(() =>
        q("INSERT INTO outbox (kind, body) VALUES (?, ?)").run(kind, JSON.stringify(body)),
      );
    },
    outbox: (limit) =>
      (
        q("SELECT id, kind, body FROM outbox ORDER BY id LIMIT ?").all(limit) as {
          id: number;
          kind: string;
          body: string;
        }[]
      ).map((row) => ({ id: row.id, kind: row.kind, body: JSON.parse(row.body) as unknown })),
    dequeue(id) {
      transaction(() => q("DELETE FROM outbox WHERE id = ?").run(id));
    },
    replaceRefused,
    refusedBundles: () =>
      (
        q("SELECT seq, hash, reason, body FROM refused_bundles ORDER BY seq").all() as {
          seq: number;
          hash: string;
          reason: string;
          body: string;
        }[]
      ).map((row) => ({ seq: row.seq, hash: row.hash, reason: row.reason, json: row.body })),
    prune: (cutoff) => pruneBefore(cutoff),
    close() {
      try {
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } finally {
        db.close();
      }
    },
  };
}

/**
 * Seals the event, or, when the protocol's ingest schema refuses it (sealBundle checks the bundle
 * against EvidenceBundle, the schema the control plane verifies uploads with, before signing), an
 * `evidence_unsealable` alert saying what was refused and why. The agent never seals evidence the
 * control plane would refuse, and a bad event never stops the recording of the rest.
 */
export function sealChecked(draft: BundleDraft, prev: ChainHead, signer: Signer): SealedBundle {
  try {
    return sealBundle(draft, prev, signer);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const kind = clip(String((draft.event as { kind?: unknown }).kind), 64);
    const alert: EvidenceEvent = {
      kind: "alert",
      code: UNSEALABLE_ALERT,
      severity: "high",
      subject: kind,
      message: clip(`a ${kind} event was not sealed: ${error.message}`, 500),
    };
    return sealBundle({ ...draft, event: alert }, prev, signer);
  }
}

/** SQLITE_FULL becomes a disk_full AgentError (an alert, never corruption: SQLite rolls back). */
function translate(error: unknown, message: string): AgentError {
  if (error instanceof AgentError) return error;
  const text = String((error as { message?: unknown })?.message ?? error);
  if (/SQLITE_FULL|disk is full|ENOSPC/i.test(text)) {
    return new AgentError("disk_full", `${message}: the disk is full`, { cause: error });
  }
  return new AgentError("journal_failure", `${message}: ${text}`, { cause: error });
}
