import { z } from "zod";
import { ProtocolVersion, Signature, Timestamp } from "./common.ts";

const Rate = z.number().min(0).max(1);
const Count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const Millis = z.number().min(0).max(3_600_000);

/**
 * A model's qualification report (`control-plane planner qualify`): the catalog's labelled
 * incidents put to one model on one server, scored against their labels. Signed with the control
 * plane's order-signing key; the model server's base URL and the model name are inside the signed
 * bytes, so a report opens L2 only for exactly that server and model, and a stored report that
 * was edited no longer verifies.
 */
export const QualificationReport = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("model_qualification"),
  /** The OpenAI-compatible base URL the cases were put to, as configured. */
  base_url: z.url({ protocol: /^https?$/ }).max(512),
  model: z.string().min(1).max(128),
  recorded_at: Timestamp,
  cases: Count,
  accuracy: Rate,
  escalation_rate: Rate,
  unsafe_choices: Count,
  failures: Count,
  latency_ms: z.strictObject({ p50: Millis, p99: Millis }),
  tokens: z.strictObject({ prompt: Count, completion: Count, total: Count }),
  thresholds: z.strictObject({
    min_accuracy: Rate,
    max_escalation_rate: Rate,
    max_latency_p99_ms: Millis,
    max_unsafe_choices: z.literal(0),
  }),
  passed: z.boolean(),
  /** Why it did not pass (empty when it did). */
  reasons: z.array(z.string().max(300)).max(16),
  results: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(64),
        expect: z.string().max(80),
        /** A runbook id, "escalate", or "failed:<code>". */
        answer: z.string().max(80),
        correct: z.boolean(),
        unsafe: z.boolean(),
        latency_ms: Millis,
      }),
    )
    .max(10_000),
  sig: Signature,
});
export type QualificationReport = z.infer<typeof QualificationReport>;
