import { z } from "zod";
import { CheckpointDelivery } from "./checkpoint.ts";
import {
  ApplianceId,
  ChainHead,
  Nonce,
  OrderParams,
  ProtocolVersion,
  RunbookId,
  SequenceCount,
  SequenceNumber,
  Signature,
  TenantId,
  Tier,
  Timestamp,
  Uuid,
} from "./common.ts";
import { L1RuleSet } from "./l1-rules.ts";

/**
 * The two control runbooks of the appliance's own kill switch (pause and resume all healing,
 * tier L3 only). They are the one thing a control-plane suspension never withdraws: they are how
 * a person stops or restarts an appliance.
 */
export const PAUSE_HEALING = "RB-HEALING-001-pause";
export const RESUME_HEALING = "RB-HEALING-002-resume";
export const HEALING_CONTROL_RUNBOOKS: readonly string[] = [PAUSE_HEALING, RESUME_HEALING];

/** Orders are short-lived: a week is the longest any order may stay valid. */
export const MAX_ORDER_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The most orders one poll response carries; more wait for the next poll. */
export const MAX_ORDERS_PER_POLL = 32;

/** Appliance → control plane, every poll. The nonce is fresh and random each time. */
export const PollRequest = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("poll_request"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  nonce: Nonce,
  /** The highest order sequence number this appliance has seen (accepted or rejected). */
  last_order_seq: SequenceCount,
  /** The appliance's evidence chain head, so the control plane sees what is still queued. */
  evidence_head: ChainHead,
  agent_version: z.string().min(1).max(64),
  sent_at: Timestamp,
  /** The tree size of the last checkpoint this appliance verified (absent: none yet). */
  checkpoint_size: SequenceCount.optional(),
});
export type PollRequest = z.infer<typeof PollRequest>;

/**
 * One instruction to run one pre-approved runbook on one appliance (TUF/Uptane-style
 * metadata): audience, a per-appliance sequence number that only grows, the nonce of the poll
 * that delivered it, validity window and a unique id. Signed by the control plane's key.
 */
export const Order = z
  .strictObject({
    v: ProtocolVersion,
    type: z.literal("order"),
    order_id: Uuid,
    tenant_id: TenantId,
    appliance_id: ApplianceId,
    seq: SequenceNumber,
    nonce: Nonce,
    runbook_id: RunbookId,
    params: OrderParams,
    /** Who decided: an L1 rule, the L2 planner or an L3 human. */
    tier: Tier,
    issued_at: Timestamp,
    expires_at: Timestamp,
    sig: Signature,
  })
  .superRefine((order, ctx) => {
    const ttl = Date.parse(order.expires_at) - Date.parse(order.issued_at);
    if (!(ttl > 0 && ttl <= MAX_ORDER_TTL_MS)) {
      ctx.addIssue({
        code: "custom",
        path: ["expires_at"],
        message: "must be after issued_at and at most 7 days later",
      });
    }
  });
export type Order = z.infer<typeof Order>;

/**
 * Why the control plane suspended the automatic healing it governs for an appliance: the global
 * kill switch, or the site set to audit-only.
 */
export const SuspensionReason = z.enum(["kill_switch", "audit_only"]);
export type SuspensionReason = z.infer<typeof SuspensionReason>;

/**
 * In a poll response: automatic healing the control plane governs is suspended for this
 * appliance. Absent means not suspended (a control plane that predates the field never is).
 * While suspended the response carries no L1 rule set, and the appliance applies none of the
 * flywheel rules it holds and runs no automatic (L1/L2) order; its shipped catalog rules and a
 * person's L3 orders are not governed by it (docs/protocol.md).
 */
export const HealingSuspension = z.strictObject({
  reasons: z
    .array(SuspensionReason)
    .min(1)
    .max(2)
    .refine((r) => new Set(r).size === r.length, "each reason at most once"),
  /** The operator's reason for the kill switch, when given (signed: no lone surrogate). */
  detail: z
    .string()
    .max(300)
    .refine((d) => d.isWellFormed(), "holds a lone surrogate"),
});
export type HealingSuspension = z.infer<typeof HealingSuspension>;

/** The most withdrawn orders one poll response names. */
export const MAX_WITHDRAWN_PER_POLL = 64;

/**
 * In a poll response: an order of this appliance the control plane withdrew before it was known
 * to have run. The appliance never starts it: one in this response's `orders`, or accepted by an
 * earlier poll and not started yet, is recorded as `order_withdrawn` and reported `withdrawn`.
 */
export const WithdrawnOrder = z.strictObject({
  order_id: Uuid,
  seq: SequenceNumber,
  reason: SuspensionReason,
  withdrawn_at: Timestamp,
});
export type WithdrawnOrder = z.infer<typeof WithdrawnOrder>;

/**
 * Control plane → appliance, every poll, signed even when it carries no orders: it echoes
 * the nonce (freshness without trusting the appliance clock) and states the highest order
 * sequence number issued to this appliance, so a withheld order or a rolled-back sequence
 * shows (TUF 5.4 freeze and rollback attacks).
 */
export const PollResponse = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("poll_response"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  nonce: Nonce,
  order_seq: SequenceCount,
  orders: z.array(Order).max(MAX_ORDERS_PER_POLL),
  issued_at: Timestamp,
  /** The site's latest signed L1 rule set from the data flywheel, when one was approved. */
  l1_rules: L1RuleSet.optional(),
  /** The appliance's latest signed checkpoint when newer than `checkpoint_size` */
  checkpoint: CheckpointDelivery.optional(),
  /** Present while the control plane suspends automatic healing for this appliance. */
  suspended: HealingSuspension.optional(),
  /** Orders withdrawn and not yet reported on (absent when none). */
  withdrawn_orders: z.array(WithdrawnOrder).min(1).max(MAX_WITHDRAWN_PER_POLL).optional(),
  sig: Signature,
});
export type PollResponse = z.infer<typeof PollResponse>;

/** Why an appliance refused an order. Each one becomes evidence; none is ever executed. */
export const OrderRejectionReason = z.enum([
  "malformed",
  "bad_signature",
  "wrong_audience",
  "stale_nonce",
  "sequence_rollback",
  "replayed",
  "not_yet_valid",
  "expired",
  "unknown_runbook",
  "invalid_params",
]);
export type OrderRejectionReason = z.infer<typeof OrderRejectionReason>;

export const OrderOutcome = z.enum([
  "succeeded",
  "failed",
  "rolled_back",
  "rejected",
  "expired",
  "deferred",
  /** The control plane withdrew it before it ran (the signed poll said so); it never ran. */
  "withdrawn",
]);
export type OrderOutcome = z.infer<typeof OrderOutcome>;

/** Appliance → control plane: what became of an order. Backed by the evidence at `evidence_seq`. */
export const OrderResult = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("order_result"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  order_id: Uuid,
  order_seq: SequenceNumber,
  runbook_id: RunbookId,
  outcome: OrderOutcome,
  reason: OrderRejectionReason.optional(),
  detail: z.string().max(500).optional(),
  evidence_seq: SequenceNumber,
  finished_at: Timestamp,
});
export type OrderResult = z.infer<typeof OrderResult>;
