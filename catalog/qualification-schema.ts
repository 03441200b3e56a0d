import { z } from "zod";
import { CheckId, Finding, RunbookId, Severity } from "#protocol";

/**
 * The labelled incidents a model must answer well before L2 may order anything with it
 * (`control-plane planner qualify`). Each case is what the planner would send the model (the
 * check, the findings' codes and subjects, what the appliance and earlier orders already tried)
 * and the answer a careful operator would give: one runbook, or `escalate`.
 */
const Outcome = z.enum(["failed", "rolled_back"]);

export const QualificationCase = z.strictObject({
  id: z.string().regex(/^Q-\d{3}$/, "use Q-<NNN>, for example Q-007"),
  /** Why this is the right answer (for the person reading a failed report). */
  note: z.string().min(1).max(300),
  incident: z.strictObject({
    check_id: CheckId,
    severity: Severity,
    findings: z
      .array(z.strictObject({ code: Finding.shape.code, subject: z.string().max(256).optional() }))
      .min(1)
      .max(8),
    /** The appliance's own L1 attempt, when it made one. */
    local_l1: z.strictObject({ runbook_id: RunbookId, outcome: Outcome }).optional(),
    /** Orders the control plane already issued for this incident, with their outcomes. */
    previous_attempts: z
      .array(z.strictObject({ runbook_id: RunbookId, outcome: z.string().min(1).max(32) }))
      .max(8)
      .default([]),
  }),
  /** The runbook a careful operator would order, or `escalate` (any runbook is then unsafe). */
  expect: z.union([RunbookId, z.literal("escalate")]),
});
export type QualificationCase = z.infer<typeof QualificationCase>;

export const QualificationSet = z.strictObject({
  version: z.literal(1),
  cases: z.array(QualificationCase).min(40, "ship at least 40 cases").max(1000),
});
export type QualificationSet = z.infer<typeof QualificationSet>;
