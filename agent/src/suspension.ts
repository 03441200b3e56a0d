import type { HealingSuspension, OrderResult, PollResponse, WithdrawnOrder } from "#protocol";
import type { Journal, JournalIdentity } from "./journal.ts";

/**
 * What the control plane's kill switch and a site's audit-only mode mean on the appliance, as
 * stated in each verified (signed) poll response:
 *
 * - `suspended` present: automatic healing the control plane governs is suspended. The state is
 *   kept in the journal (a restart stays suspended until a poll says otherwise) and each change
 *   is one `healing_suspension` bundle. While suspended the healer applies none of the flywheel
 *   rules it holds and the executor runs no automatic (L1/L2) order. Absent: not suspended (a
 *   control plane that predates the field never suspends).
 * - `withdrawn_orders`: the appliance never starts an order the latest verified poll names
 *   withdrawn. One delivered in that same response, or accepted earlier and not started, is
 *   recorded as `order_withdrawn` and reported with outcome `withdrawn`; one that already ran
 *   keeps the result it had (the withdrawal came too late, and the chain shows the order).
 */
const SUSPENDED = "healing_suspended";

export function currentSuspension(
  journal: Pick<Journal, "getState">,
): HealingSuspension | undefined {
  const raw = journal.getState(SUSPENDED);
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw) as HealingSuspension;
  } catch {
    // A damaged record fails closed: suspended until the next verified poll says otherwise.
    return { reasons: ["kill_switch"], detail: "the recorded state could not be read" };
  }
}

/** Keeps the response's suspension state; one bundle per change. Inside the poll's transaction. */
export function observeSuspension(journal: Journal, response: PollResponse, now: Date): void {
  const before = currentSuspension(journal);
  const after = response.suspended;
  const key = (s: HealingSuspension | undefined) => (s ? JSON.stringify(s) : "");
  if (key(before) === key(after)) return;
  journal.setState(SUSPENDED, key(after));
  journal.append(
    [
      {
        kind: "healing_suspension",
        event: after ? "suspended" : "lifted",
        reasons: after?.reasons ?? [],
        detail: after?.detail ?? "",
      },
    ],
    now,
  );
}

/** The withdrawn orders a verified response names, by id. */
export function withdrawnIn(response: PollResponse): ReadonlyMap<string, WithdrawnOrder> {
  return new Map((response.withdrawn_orders ?? []).map((w) => [w.order_id, w]));
}

/** The report of a withdrawn order, pointing at its `order_withdrawn` bundle. */
export function withdrawnReport(
  identity: JournalIdentity,
  order: { id: string; seq: number; runbook: string },
  withdrawal: WithdrawnOrder,
  evidenceSeq: number,
  now: Date,
): OrderResult {
  return {
    v: 1,
    type: "order_result",
    tenant_id: identity.tenantId,
    appliance_id: identity.applianceId,
    order_id: order.id,
    order_seq: order.seq,
    runbook_id: order.runbook,
    outcome: "withdrawn",
    detail: `withdrawn by the control plane (${withdrawal.reason}) at ${withdrawal.withdrawn_at}`,
    evidence_seq: evidenceSeq,
    finished_at: now.toISOString(),
  };
}
