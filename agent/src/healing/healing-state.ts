import type { Journal } from "../journal.ts";
import type { Clock } from "../ports.ts";
import { type AttemptLedger, attemptLedger } from "./attempts.ts";
import { type OpenIncidents, openIncidents } from "./incidents.ts";
import { type KillSwitch, killSwitch } from "./kill-switch.ts";

export interface HealingState {
  readonly ledger: AttemptLedger;
  readonly killSwitch: KillSwitch;
  readonly incidents: OpenIncidents;
}

/** The L1 run in progress, so one cut short by a crash or a stop is recorded on the next start. */
export const IN_FLIGHT = "healing_in_flight";

/**
 * The healer's persisted state. An L1 run that was interrupted is recorded as failed (its attempt
 * already counted); the next round of checks decides again from what the host now shows.
 */
export function healingState(journal: Journal, clock: Clock): HealingState {
  const raw = journal.getState(IN_FLIGHT);
  if (raw) {
    try {
      const run = JSON.parse(raw) as { runbook: string; check: string; attempt: number };
      journal.append(
        [
          {
            kind: "healing_attempt",
            tier: "L1",
            runbook_id: run.runbook,
            check_id: run.check,
            attempt: run.attempt,
            outcome: "failed",
            detail: "interrupted: the agent stopped while the runbook ran",
          },
        ],
        clock.now(),
      );
    } finally {
      journal.setState(IN_FLIGHT, "");
    }
  }
  return {
    ledger: attemptLedger(journal),
    killSwitch: killSwitch(journal),
    incidents: openIncidents(journal),
  };
}
