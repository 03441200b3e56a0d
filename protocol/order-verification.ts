import { sha256Hex } from "./encoding.ts";
import { tryParseMessage } from "./parse.ts";
import {
  MAX_ORDERS_PER_POLL,
  Order,
  type OrderRejectionReason,
  PollResponse,
} from "./schemas/orders.ts";
import { signingBytes, type VerificationKey, verifyDocument } from "./signed-document.ts";

/**
 * What the appliance checks before it runs anything (docs/architecture.md, trust model "Orders";
 * TUF 5.x and Uptane's defences against arbitrary software, rollback, freeze, replay and
 * mix-and-match). A compromised control plane can at most order runbooks the appliance already
 * trusts; everyone else cannot order anything.
 */
export interface OrderContext {
  /** The control plane's pinned order-signing key. */
  readonly key: VerificationKey;
  readonly tenantId: string;
  readonly applianceId: string;
  /** The nonce this appliance sent in the poll that is being answered. */
  readonly nonce: string;
  /** The highest order sequence number seen so far (persisted across restarts). */
  readonly lastOrderSeq: number;
  readonly seenOrderIds: { has(orderId: string): boolean };
  /** The appliance's local runbook allowlist. */
  readonly runbooks: { has(runbookId: string): boolean };
  /** Checks params against the runbook's own schema; returns a problem, or null when valid. */
  readonly checkParams?: (runbookId: string, params: Order["params"]) => string | null;
  readonly now: Date;
  /** Tolerated clock difference for `issued_at` in the future. Default two minutes. */
  readonly clockSkewMs?: number;
}

export type OrderVerdict =
  | { readonly ok: true; readonly order: Order; readonly orderHash: string }
  | {
      readonly ok: false;
      readonly reason: OrderRejectionReason;
      readonly detail: string;
      /** The order as claimed, when it parsed; its fields are unverified. */
      readonly claimed?: Order;
      readonly orderHash?: string;
    };

const DEFAULT_CLOCK_SKEW_MS = 2 * 60 * 1000;

export function verifyOrder(raw: unknown, context: OrderContext): OrderVerdict {
  const parsed = tryParseMessage(Order, raw);
  if (!parsed.ok) return { ok: false, reason: "malformed", detail: parsed.problem };
  const order = parsed.value;
  const bytes = signingBytes(order);
  const orderHash = sha256Hex(bytes);
  const reject = (reason: OrderRejectionReason, detail: string): OrderVerdict => ({
    ok: false,
    reason,
    detail,
    claimed: order,
    orderHash,
  });

  if (!verifyDocument(order, context.key, bytes)) {
    return reject("bad_signature", "not signed by the pinned control-plane key");
  }
  if (order.tenant_id !== context.tenantId || order.appliance_id !== context.applianceId) {
    return reject("wrong_audience", `addressed to ${order.tenant_id}/${order.appliance_id}`);
  }
  if (order.nonce !== context.nonce) {
    return reject("stale_nonce", "does not echo the nonce of this poll");
  }
  if (context.seenOrderIds.has(order.order_id)) {
    return reject("replayed", `order ${order.order_id} was already received`);
  }
  if (order.seq <= context.lastOrderSeq) {
    return reject("sequence_rollback", `seq ${order.seq} is not above ${context.lastOrderSeq}`);
  }
  const now = context.now.getTime();
  const skew = context.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (Date.parse(order.issued_at) > now + skew) {
    return reject("not_yet_valid", `issued at ${order.issued_at}, after the local clock`);
  }
  if (Date.parse(order.expires_at) <= now) {
    return reject("expired", `expired at ${order.expires_at}`);
  }
  if (!context.runbooks.has(order.runbook_id)) {
    return reject("unknown_runbook", `${order.runbook_id} is not in the local allowlist`);
  }
  const problem = context.checkParams?.(order.runbook_id, order.params) ?? null;
  if (problem !== null) return reject("invalid_params", problem);
  return { ok: true, order, orderHash };
}

export type PollRejectionReason =
  | "malformed"
  | "bad_signature"
  | "wrong_audience"
  | "stale_nonce"
  | "sequence_rollback"
  | "orders_withheld";

export type PollVerdict =
  | {
      readonly ok: true;
      readonly response: PollResponse;
      /** One verdict per order, in sequence order; rejected ones are evidence, never run. */
      readonly orders: readonly OrderVerdict[];
      /** The sequence number to persist as seen: every delivered order consumes its number. */
      readonly lastOrderSeq: number;
    }
  | { readonly ok: false; readonly reason: PollRejectionReason; readonly detail: string };

/**
 * Verifies a whole poll response, then each order in it. The response is judged as a unit
 * (signature, audience, nonce, sequence); its orders must be exactly the next consecutive
 * sequence numbers, up to the page limit, or the response is refused as withholding orders.
 */
export function verifyPollResponse(raw: unknown, context: OrderContext): PollVerdict {
  const parsed = tryParseMessage(PollResponse, raw);
  if (!parsed.ok) return { ok: false, reason: "malformed", detail: parsed.problem };
  const response = parsed.value;
  if (!verifyDocument(response, context.key)) {
    return { ok: false, reason: "bad_signature", detail: "not signed by the pinned key" };
  }
  if (response.tenant_id !== context.tenantId || response.appliance_id !== context.applianceId) {
    return { ok: false, reason: "wrong_audience", detail: "addressed to another appliance" };
  }
  if (response.nonce !== context.nonce) {
    return { ok: false, reason: "stale_nonce", detail: "does not echo the nonce of this poll" };
  }
  if (response.order_seq < context.lastOrderSeq) {
    return {
      ok: false,
      reason: "sequence_rollback",
      detail: `order_seq ${response.order_seq} is below ${context.lastOrderSeq} already seen`,
    };
  }
  const outstanding = response.order_seq - context.lastOrderSeq;
  const due = Math.min(outstanding, MAX_ORDERS_PER_POLL);
  const consecutive = response.orders.every((o, i) => o.seq === context.lastOrderSeq + 1 + i);
  if (response.orders.length !== due || !consecutive) {
    return {
      ok: false,
      reason: "orders_withheld",
      detail: `expected orders ${context.lastOrderSeq + 1}..${context.lastOrderSeq + due}, got [${response.orders.map((o) => o.seq).join(", ")}]`,
    };
  }

  // An id repeated inside one response is a replay too.
  const seen = new Set<string>();
  const seenOrderIds = { has: (id: string) => seen.has(id) || context.seenOrderIds.has(id) };
  const verdicts = response.orders.map((order, i) => {
    const verdict = verifyOrder(order, {
      ...context,
      lastOrderSeq: context.lastOrderSeq + i,
      seenOrderIds,
    });
    seen.add(order.order_id);
    return verdict;
  });
  return { ok: true, response, orders: verdicts, lastOrderSeq: context.lastOrderSeq + due };
}
