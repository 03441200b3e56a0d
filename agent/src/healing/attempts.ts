import { durationMs, type Runbook } from "#catalog";
import { backoffDelay } from "#protocol";

/**
 * Cooldown, maximum attempts and exponential backoff per runbook on this appliance, persisted in
 * the journal's state table so a restart never resets them. Every L1 attempt counts, whether it
 * healed or not: a unit that keeps crashing and keeps being "healed" is a loop a person must see.
 * After attempt n the runbook may run again only `cooldown × 2^(n-1)` later; after max_attempts it
 * is exhausted (the drift goes to the control plane as an incident) until a quiet period with no
 * attempt (24 h, or twice the cooldown if longer) resets the count.
 */
export interface StateStore {
  getState(key: string): string | undefined;
  setState(key: string, value: string): void;
}

interface Entry {
  attempts: number;
  last_at: number;
}

export type AttemptVerdict =
  | { readonly kind: "allowed"; readonly attempt: number }
  | { readonly kind: "cooldown"; readonly until: Date; readonly attempts: number }
  | { readonly kind: "exhausted"; readonly attempts: number; readonly until: Date };

const KEY = "healing_attempts";
const DAY_MS = 24 * 3_600_000;

export interface AttemptLedger {
  check(runbook: Runbook, now: Date): AttemptVerdict;
  /** Counts an attempt that is about to run (before it runs: a crash mid-run still counts). */
  record(runbook: Runbook, now: Date): number;
  attempts(runbookId: string): number;
}

export function attemptLedger(store: StateStore): AttemptLedger {
  const load = (): Record<string, Entry> => {
    const raw = store.getState(KEY);
    if (raw === undefined || raw === "") return {};
    try {
      return JSON.parse(raw) as Record<string, Entry>;
    } catch {
      return {};
    }
  };
  const current = (runbook: Runbook, now: number): Entry => {
    const entry = load()[runbook.id];
    if (entry === undefined) return { attempts: 0, last_at: 0 };
    const quiet = Math.max(DAY_MS, 2 * durationMs(runbook.cooldown));
    return now - entry.last_at >= quiet ? { attempts: 0, last_at: 0 } : entry;
  };
  return {
    check(runbook, now) {
      const entry = current(runbook, now.getTime());
      if (entry.attempts === 0) return { kind: "allowed", attempt: 1 };
      const quiet = Math.max(DAY_MS, 2 * durationMs(runbook.cooldown));
      if (entry.attempts >= runbook.max_attempts) {
        return {
          kind: "exhausted",
          attempts: entry.attempts,
          until: new Date(entry.last_at + quiet),
        };
      }
      const wait = backoffDelay(entry.attempts - 1, durationMs(runbook.cooldown), Infinity);
      if (now.getTime() < entry.last_at + wait) {
        return {
          kind: "cooldown",
          until: new Date(entry.last_at + wait),
          attempts: entry.attempts,
        };
      }
      return { kind: "allowed", attempt: entry.attempts + 1 };
    },
    record(runbook, now) {
      const all = load();
      const entry = current(runbook, now.getTime());
      all[runbook.id] = { attempts: entry.attempts + 1, last_at: now.getTime() };
      store.setState(KEY, JSON.stringify(all));
      return entry.attempts + 1;
    },
    attempts: (runbookId) => load()[runbookId]?.attempts ?? 0,
  };
}
