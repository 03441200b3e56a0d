import { z } from "zod";
import {
  ApplianceId,
  CheckId,
  Finding,
  ProtocolVersion,
  RunbookId,
  SequenceNumber,
  Sha256Hex,
  Signature,
  TenantId,
  Tier,
  Timestamp,
  Uuid,
} from "./common.ts";

const Name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "use snake_case")
  .max(64);

/** One guardrail's verdict on a proposed order (control-plane/README.md lists them). */
export const GuardrailResult = z.strictObject({
  name: Name,
  passed: z.boolean(),
  detail: z.string().max(300),
});
export type GuardrailResult = z.infer<typeof GuardrailResult>;

/**
 * Why an L2 call failed, as a closed set (a metric label and a field of the signed record);
 * `failure` says it in words.
 */
export const L2FailureCode = z.enum([
  /** No answer within the deadline. */
  "timeout",
  /** The connection failed. */
  "unreachable",
  /** An HTTP error status (the server's own message is kept in `failure`). */
  "server_error",
  /** The answer exceeded the response size cap and was cut off. */
  "too_large",
  /** The server refused every structured-output mode (json_schema, json_object, plain text). */
  "format_refused",
  /** The model refused, or the server's content filter stopped it. */
  "refused",
  /** finish_reason "length": the answer stopped at max_tokens. */
  "truncated",
  /** The model answered with a tool call instead of the JSON answer. */
  "tool_call",
  /** No choice or no content. */
  "no_answer",
  /** The content is not one JSON object (after removing fences and think blocks). */
  "not_json",
  /** The JSON does not match the answer's schema. */
  "schema",
  /** A runbook id that was not offered. */
  "outside_candidates",
  /** The circuit breaker is open: the model was not called. */
  "unavailable",
]);
export type L2FailureCode = z.infer<typeof L2FailureCode>;

/** What an L2 call cost and returned: the model's choice is recorded, never executed. */
export const LlmUsage = z.strictObject({
  model: z.string().min(1).max(128),
  latency_ms: z.number().min(0),
  attempts: z.int().min(0).max(10),
  prompt_tokens: z.int().min(0).optional(),
  completion_tokens: z.int().min(0).optional(),
  /** SHA-256 of the exact request body sent to the model (what was sent is reproducible). */
  request_hash: Sha256Hex,
  choice: z.string().max(80).optional(),
  confidence: z.number().min(0).max(1).optional(),
  /** The model's rationale, stored as data (untrusted text, at most 500 characters). */
  rationale: z.string().max(500).optional(),
  failure: z.string().max(300).optional(),
  failure_code: L2FailureCode.optional(),
});
export type LlmUsage = z.infer<typeof LlmUsage>;

export const DecisionOutcome = z.enum([
  /** A signed order was created. */
  "order_issued",
  /** Sent to the operator queue (L3). */
  "escalated",
  /** Audit-only mode: what would have been ordered is recorded, nothing is sent. */
  "audit_only",
  /** An operator rejected the escalation. */
  "rejected",
  /** An operator resolved it by hand, with a note. */
  "resolved_manually",
  /** The order's verified result arrived (flywheel input). */
  "outcome_verified",
]);
export type DecisionOutcome = z.infer<typeof DecisionOutcome>;

/**
 * The control plane's own evidence: one signed record per decision about an incident, in a
 * hash chain per appliance (seq, prev_hash) signed with the control plane's order-signing key.
 * Who or what decided (`decided_by`), why (`reason`, `guardrails`, `llm`) and on what inputs
 * (`inputs`) are inside the signed bytes. Auditors verify it with verifyDecisionChain and the
 * control plane's public key, exactly as they verify appliance evidence.
 */
export const DecisionRecord = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("decision_record"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  seq: SequenceNumber,
  prev_hash: Sha256Hex,
  recorded_at: Timestamp,
  incident_id: Uuid,
  tier: Tier,
  /** control-plane:l1:<rule id>, l2:<model>, operator:<name>, control-plane:pipeline. */
  decided_by: z.string().min(1).max(160),
  outcome: DecisionOutcome,
  runbook_id: RunbookId.optional(),
  order_id: Uuid.optional(),
  reason: z.string().max(500),
  inputs: z.strictObject({
    check_id: CheckId,
    findings: z.array(Finding.pick({ code: true, subject: true })).max(64),
    /** The runbooks that were allowed to be chosen. */
    candidates: z.array(RunbookId).max(64),
    /** The incident as received, hashed: SHA-256 of its canonical JSON. */
    incident_hash: Sha256Hex,
  }),
  guardrails: z.array(GuardrailResult).max(32),
  llm: LlmUsage.optional(),
  /** Operator note (manual resolution, rejection). */
  note: z.string().max(1000).optional(),
  sig: Signature,
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;
