import {
  HEALING_CONTROL_RUNBOOKS,
  type HealingSuspension,
  type Order,
  PAUSE_HEALING,
  RESUME_HEALING,
} from "#protocol";
import type { RunbookAllowlist } from "../ports.ts";
import { currentSuspension } from "../suspension.ts";
import type { StateStore } from "./attempts.ts";

/**
 * The kill switch. Two control runbooks, delivered as ordinary signed orders (same pinned key,
 * audience, nonce, sequence and expiry checks as any order), pause and resume all healing on this
 * appliance. They change nothing on the host, take no params and are accepted only from a person
 * (tier L3), so a compromised planner cannot silence healing. The paused state is persisted in
 * the journal: a restart stays paused. While paused the agent still runs every check, records
 * evidence and reports incidents; it never runs a runbook, whether from an L1 rule or an order.
 *
 * The control plane's own kill switch and a site's audit-only mode reach the appliance another
 * way: stated in each signed poll response (../suspension.ts). While they hold, `suspended()`
 * says why; the healer then holds its flywheel rules and the executor refuses automatic (L1/L2)
 * orders, while the shipped catalog rules and a person's L3 orders go on (the local pause above
 * is what stops everything).
 */
export { PAUSE_HEALING, RESUME_HEALING };
export const CONTROL_RUNBOOKS: ReadonlySet<string> = new Set(HEALING_CONTROL_RUNBOOKS);

export interface PausedState {
  readonly paused: true;
  readonly order_id: string;
  readonly since: string;
}

const KEY = "healing_paused";

export interface KillSwitch {
  paused(): PausedState | undefined;
  /** The control plane's suspension from the latest verified poll, if any. */
  suspended(): HealingSuspension | undefined;
  /** Applies a control order; returns a problem sentence when the order may not do it. */
  apply(order: Order, now: Date): { event: "paused" | "resumed" } | { problem: string };
}

export function killSwitch(store: StateStore): KillSwitch {
  const paused = (): PausedState | undefined => {
    const raw = store.getState(KEY);
    if (raw === undefined || raw === "") return undefined;
    try {
      const state = JSON.parse(raw) as PausedState;
      return state.paused === true ? state : undefined;
    } catch {
      // A damaged record fails closed: healing stays paused until a resume order.
      return { paused: true, order_id: "unknown", since: new Date(0).toISOString() };
    }
  };
  return {
    paused,
    suspended: () => currentSuspension(store),
    apply(order, now) {
      if (order.tier !== "L3") {
        return { problem: `${order.runbook_id} is accepted only from a person (tier L3)` };
      }
      if (Object.keys(order.params).length > 0) {
        return { problem: `${order.runbook_id} takes no params` };
      }
      if (order.runbook_id === PAUSE_HEALING) {
        const state: PausedState = {
          paused: true,
          order_id: order.order_id,
          since: now.toISOString(),
        };
        store.setState(KEY, JSON.stringify(state));
        return { event: "paused" };
      }
      if (order.runbook_id === RESUME_HEALING) {
        store.setState(KEY, "");
        return { event: "resumed" };
      }
      return { problem: `${order.runbook_id} is not a healing control runbook` };
    },
  };
}

/** The local allowlist plus the two control runbooks (no params), for verifying orders. */
export function withControlRunbooks(allowlist: RunbookAllowlist): RunbookAllowlist {
  return {
    has: (id) => CONTROL_RUNBOOKS.has(id) || allowlist.has(id),
    checkParams: (id, params) => {
      if (CONTROL_RUNBOOKS.has(id)) {
        return Object.keys(params).length === 0 ? null : `${id} takes no params`;
      }
      return allowlist.checkParams?.(id, params) ?? null;
    },
  };
}
