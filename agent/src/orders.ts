import {
  APPLIANCE_API,
  type EvidenceEvent,
  type Order,
  type OrderResult,
  type OrderVerdict,
  randomNonce,
  type Signer,
  type VerificationKey,
  verifyPollResponse,
  type WithdrawnOrder,
} from "#protocol";
import {
  checkCheckpointFreshness,
  lastVerifiedCheckpoint,
  recordCheckpoint,
} from "./checkpoint.ts";
import { AgentError } from "./errors.ts";
import type { Journal, JournalIdentity } from "./journal.ts";
import type { Clock, RunbookAllowlist } from "./ports.ts";
import { observeSuspension, withdrawnIn, withdrawnReport } from "./suspension.ts";
import type { Transport } from "./transport.ts";

/**
 * One poll: a fresh nonce, the response verified as a whole and order by order with protocol/
 * (TUF/Uptane defences), then, in ONE journal transaction before anything runs: the new
 * last_order_seq, the seen order ids, an order_accepted or order_rejected bundle per order and
 * the reports of rejected orders queued for the control plane. A response refused as a whole is
 * an alert bundle and nothing else. The response's suspension state and withdrawn orders are
 * applied in the same transaction (suspension.ts): a withdrawn order is never accepted.
 */
export interface PollDeps {
  readonly journal: Journal;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly identity: JournalIdentity;
  readonly pinnedKey: VerificationKey;
  readonly allowlist: RunbookAllowlist;
  readonly agentVersion: string;
  /** The evidence key, to cosign accepted checkpoints as the log's witness. */
  readonly cosigner?: Pick<Signer, "publicKey" | "sign">;
  /** The bound on the newest checkpoint's age while the log grows (freeze alert). */
  readonly checkpointFreshnessMs?: number;
}

export interface AcceptedOrder {
  readonly order: Order;
  readonly evidenceSeq: number;
}

export type PollOutcome =
  | {
      readonly kind: "orders";
      readonly accepted: readonly AcceptedOrder[];
      readonly rejected: number;
      /** The signed L1 rule set the response carried (verified by agent/src/flywheel). */
      readonly l1Rules?: unknown;
    }
  | { readonly kind: "refused"; readonly reason: string };

export const LAST_ORDER_SEQ = "last_order_seq";
/**
 * Orders accepted by a poll and not yet finished, kept in the journal in the same transaction
 * that consumes their sequence numbers: an order accepted just before a crash is reported as
 * failed on restart (see recoverInterruptedOrder) instead of silently vanishing.
 */
export const ACCEPTED_ORDERS = "accepted_orders";

export interface OrderRef {
  readonly id: string;
  readonly seq: number;
  readonly runbook: string;
}

export function acceptedOrders(journal: Pick<Journal, "getState">): OrderRef[] {
  const raw = journal.getState(ACCEPTED_ORDERS);
  return raw ? (JSON.parse(raw) as OrderRef[]) : [];
}

export async function pollOnce(deps: PollDeps, signal: AbortSignal): Promise<PollOutcome> {
  const { journal, identity } = deps;
  const nonce = randomNonce();
  const lastOrderSeq = Number(journal.getState(LAST_ORDER_SEQ) ?? "0");
  const checkpointSize = lastVerifiedCheckpoint(journal)?.treeSize;
  const answer = await deps.transport.post(
    APPLIANCE_API.poll,
    {
      v: 1,
      type: "poll_request",
      tenant_id: identity.tenantId,
      appliance_id: identity.applianceId,
      nonce,
      last_order_seq: lastOrderSeq,
      evidence_head: journal.head(),
      agent_version: deps.agentVersion,
      sent_at: deps.clock.now().toISOString(),
      ...(checkpointSize !== undefined ? { checkpoint_size: checkpointSize } : {}),
    },
    signal,
  );
  if (!answer.ok) {
    throw new AgentError(
      "bad_response",
      `poll answered ${answer.status} ${answer.problem?.code ?? "(no problem body)"}`,
    );
  }
  const now = deps.clock.now();
  const verdict = verifyPollResponse(answer.body, {
    key: deps.pinnedKey,
    tenantId: identity.tenantId,
    applianceId: identity.applianceId,
    nonce,
    lastOrderSeq,
    seenOrderIds: { has: (id) => journal.hasSeenOrder(id) },
    runbooks: deps.allowlist,
    ...(deps.allowlist.checkParams
      ? { checkParams: deps.allowlist.checkParams.bind(deps.allowlist) }
      : {}),
    now,
  });
  if (!verdict.ok) {
    journal.append(
      [
        {
          kind: "alert",
          code: `poll_${verdict.reason}`,
          severity: "high",
          subject: "poll_response",
          message: clip(`poll response refused as a whole (${verdict.reason}): ${verdict.detail}`),
        },
      ],
      now,
    );
    return { kind: "refused", reason: verdict.reason };
  }

  return journal.transaction(() => {
    const response = verdict.response;
    observeSuspension(journal, response, now);
    const withdrawn = withdrawnIn(response);
    withdrawAccepted(journal, identity, withdrawn, now);
    journal.setState(LAST_ORDER_SEQ, String(verdict.lastOrderSeq));
    journal.rememberOrders(response.orders.map((o) => ({ id: o.order_id, seq: o.seq })));
    const withdrawal = (v: OrderVerdict) => (v.ok ? withdrawn.get(v.order.order_id) : undefined);
    const sealed = journal.append(
      verdict.orders.map((v) => evidenceFor(v, withdrawal(v))),
      now,
    );
    if (response.checkpoint) {
      recordCheckpoint(journal, response.checkpoint, {
        identity,
        pinnedKey: deps.pinnedKey,
        now,
        ...(deps.cosigner ? { cosigner: deps.cosigner } : {}),
      });
    }
    checkCheckpointFreshness(journal, now, deps.checkpointFreshnessMs);
    const accepted: AcceptedOrder[] = [];
    let rejected = 0;
    verdict.orders.forEach((v, i) => {
      const evidenceSeq = sealed[i]?.head.seq ?? 0;
      const w = withdrawal(v);
      if (v.ok && w) {
        const ref = { id: v.order.order_id, seq: v.order.seq, runbook: v.order.runbook_id };
        journal.enqueue("order_result", withdrawnReport(identity, ref, w, evidenceSeq, now));
        return;
      }
      if (v.ok) {
        accepted.push({ order: v.order, evidenceSeq });
        return;
      }
      rejected++;
      const claimed = v.claimed;
      if (!claimed) return;
      const report: OrderResult = {
        v: 1,
        type: "order_result",
        tenant_id: identity.tenantId,
        appliance_id: identity.applianceId,
        order_id: claimed.order_id,
        order_seq: claimed.seq,
        runbook_id: claimed.runbook_id,
        outcome: v.reason === "expired" ? "expired" : "rejected",
        reason: v.reason,
        detail: clip(v.detail),
        evidence_seq: evidenceSeq,
        finished_at: now.toISOString(),
      };
      journal.enqueue("order_result", report);
    });
    if (accepted.length > 0) {
      const refs = accepted.map(({ order: o }) => ({
        id: o.order_id,
        seq: o.seq,
        runbook: o.runbook_id,
      }));
      journal.setState(ACCEPTED_ORDERS, JSON.stringify([...acceptedOrders(journal), ...refs]));
    }
    return {
      kind: "orders" as const,
      accepted,
      rejected,
      ...(response.l1_rules ? { l1Rules: response.l1_rules } : {}),
    };
  });
}

/**
 * Orders accepted by an earlier poll and not started yet that this response withdraws: out of
 * the accepted list, each an `order_withdrawn` bundle and a `withdrawn` report. An order that
 * already ran is not in the list: its own result stands.
 */
function withdrawAccepted(
  journal: Journal,
  identity: JournalIdentity,
  withdrawn: ReadonlyMap<string, WithdrawnOrder>,
  now: Date,
): void {
  if (withdrawn.size === 0) return;
  const waiting = acceptedOrders(journal);
  const hit = waiting.filter((o) => withdrawn.has(o.id));
  if (hit.length === 0) return;
  journal.setState(ACCEPTED_ORDERS, JSON.stringify(waiting.filter((o) => !withdrawn.has(o.id))));
  for (const ref of hit) {
    const w = withdrawn.get(ref.id) as WithdrawnOrder;
    const [bundle] = journal.append([withdrawnEvent(ref, w)], now);
    journal.enqueue("order_result", withdrawnReport(identity, ref, w, bundle?.head.seq ?? 1, now));
  }
}

const withdrawnEvent = (ref: OrderRef, w: WithdrawnOrder): EvidenceEvent => ({
  kind: "order_withdrawn",
  order_id: ref.id,
  order_seq: ref.seq,
  runbook_id: ref.runbook,
  reason: w.reason,
  withdrawn_at: w.withdrawn_at,
});

function evidenceFor(verdict: OrderVerdict, withdrawn?: WithdrawnOrder): EvidenceEvent {
  if (verdict.ok && withdrawn) {
    const o = verdict.order;
    return withdrawnEvent({ id: o.order_id, seq: o.seq, runbook: o.runbook_id }, withdrawn);
  }
  if (verdict.ok) {
    return {
      kind: "order_accepted",
      order_id: verdict.order.order_id,
      order_seq: verdict.order.seq,
      runbook_id: verdict.order.runbook_id,
      tier: verdict.order.tier,
      order_hash: verdict.orderHash,
    };
  }
  const claimed = verdict.claimed;
  return {
    kind: "order_rejected",
    outcome: verdict.reason === "expired" ? "expired" : "rejected",
    reason: verdict.reason,
    detail: clip(verdict.detail),
    ...(claimed
      ? { order_id: claimed.order_id, order_seq: claimed.seq, runbook_id: claimed.runbook_id }
      : {}),
    ...(verdict.orderHash ? { order_hash: verdict.orderHash } : {}),
  };
}

export const clip = (text: string, max = 500): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;
