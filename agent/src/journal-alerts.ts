import type { Journal } from "./journal.ts";
import type { Clock } from "./ports.ts";

const REFUSED_WRITES = "refused_writes";

/**
 * A full journal (or disk): SQLite refuses the write and rolls it back, so nothing is torn, and
 * the journal has already tried to make room by pruning receipted bundles. One `journal_full`
 * alert (written from the reserve) opens each episode of refused writes and one
 * `journal_recovered` alert, with their count, closes it. The count lives in the journal's
 * state, so a restart continues the episode instead of opening another.
 */
export function fullJournalAlerts(journal: Journal, clock: Clock) {
  let refused = Number(journal.getState(REFUSED_WRITES) ?? "0");
  const count = (n: number) => {
    refused = n;
    try {
      journal.setState(REFUSED_WRITES, String(n));
    } catch {}
  };
  return {
    /** A write was refused as disk_full during `step`. Never throws. */
    refused(step: string): void {
      count(refused + 1);
      if (refused > 1) return;
      try {
        journal.append(
          [
            {
              kind: "alert",
              code: "journal_full",
              severity: "critical",
              message: `${step}: the journal is full; new events are not recorded until there is room`,
            },
          ],
          clock.now(),
          { reserve: true },
        );
      } catch {}
    },
    /** An event write succeeded: closes an open episode (may throw like any append). */
    hasRoom(): number {
      if (refused === 0) return 0;
      const total = refused;
      journal.append(
        [
          {
            kind: "alert",
            code: "journal_recovered",
            severity: "high",
            message: `the journal has room again; ${total} writes were refused while it was full`,
          },
        ],
        clock.now(),
      );
      count(0);
      return total;
    },
  };
}

export type FullJournalAlerts = ReturnType<typeof fullJournalAlerts>;
