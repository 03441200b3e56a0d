import { z } from "zod";
import {
  ApplianceId,
  CheckId,
  Finding,
  ProtocolVersion,
  RunbookId,
  SequenceNumber,
  Signature,
  TenantId,
  Timestamp,
  Uuid,
} from "./common.ts";

/** The most rules one signed rule set may carry. */
export const MAX_L1_RULES = 256;

/**
 * One operator-approved L1 rule from the data flywheel: drift `finding` of check `check_id` is
 * healed locally with `runbook_id`. Parameters are never part of a rule: the appliance fills
 * them from the finding and checks them against the runbook's own schema, as for any order.
 */
export const L1RuleEntry = z.strictObject({
  rule_id: Uuid,
  check_id: CheckId,
  finding: Finding.shape.code,
  runbook_id: RunbookId,
  /** The operator who approved it, as recorded in the control plane's audit log. */
  approved_by: z.string().min(1).max(128),
  approved_at: Timestamp,
  /** How many verified L2 resolutions (and no failure) justified the proposal. */
  successes: z.int().min(1),
});
export type L1RuleEntry = z.infer<typeof L1RuleEntry>;

/**
 * Control plane → appliance, inside the signed poll response (`l1_rules`): the site's whole
 * current rule set, itself signed with the order-signing key the appliance pins, addressed to
 * one appliance, and versioned. Versions only grow (TUF 5.3.x rollback defence): the appliance
 * refuses a lower version, and a reused version with other content.
 */
export const L1RuleSet = z
  .strictObject({
    v: ProtocolVersion,
    type: z.literal("l1_rule_set"),
    tenant_id: TenantId,
    appliance_id: ApplianceId,
    version: SequenceNumber,
    issued_at: Timestamp,
    rules: z.array(L1RuleEntry).max(MAX_L1_RULES),
    sig: Signature,
  })
  .superRefine((set, ctx) => {
    const patterns = new Set<string>();
    const ids = new Set<string>();
    set.rules.forEach((rule, i) => {
      const pattern = `${rule.check_id}/${rule.finding}`;
      if (patterns.has(pattern)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i],
          message: `a second rule for ${pattern}: one runbook per pattern`,
        });
      }
      if (ids.has(rule.rule_id)) {
        ctx.addIssue({ code: "custom", path: ["rules", i, "rule_id"], message: "repeated" });
      }
      patterns.add(pattern);
      ids.add(rule.rule_id);
    });
  });
export type L1RuleSet = z.infer<typeof L1RuleSet>;

/** Why an appliance refused a rule set. Each refusal is evidence; the previous set stays. */
export const L1RuleSetRejectionReason = z.enum([
  "malformed",
  "bad_signature",
  "wrong_audience",
  "version_rollback",
  "version_reused",
  "unknown_runbook",
  "unknown_finding",
]);
export type L1RuleSetRejectionReason = z.infer<typeof L1RuleSetRejectionReason>;
