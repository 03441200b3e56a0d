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
} from "#protocol";
import {
  checkCheckpointFreshness,
  lastVerifiedCheckpoint,
  recordCheckpoint,
} from "./checkpoint.ts";
import { AgentError } from "./errors.ts";
import type { Journal, JournalIdentity } from "./journal.ts";
import type { Clock, RunbookAllowlist } from "./ports.ts";
import type { Transport } from "./transport.ts";

/**
 * One poll: a fresh nonce, the response verified as a whole and order by order with protocol/
 * (TUF/Uptane defences), then, in ONE journal transaction before anything runs: the new
 * last_order_seq, the seen order ids, an order_accepted or order_rejected bundle per order and
 * the reports of rejected orders queued for the control plane. A response refused as a whole is
 * an alert bundle and nothing else.
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
    journal.setState(LAST_ORDER_SEQ, String(verdict.lastOrderSeq));
    journal.rememberOrders(verdict.response.orders.map((o) => ({ id: o.order_id, seq: o.seq })));
    const sealed = journal.append(verdict.orders.map(evidenceFor), now);
    if (verdict.response.checkpoint) {
      recordCheckpoint(journal, verdict.response.checkpoint, {
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
      ...(verdict.response.l1_rules ? { l1Rules: verdict.response.l1_rules } : {}),
    };
  });
}

function evidenceFor(verdict: OrderVerdict): EvidenceEvent {
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
