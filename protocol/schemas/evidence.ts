import { z } from "zod";
import {
  ApplianceId,
  CheckId,
  Finding,
  ProtocolVersion,
  RunbookId,
  Scalar,
  SequenceCount,
  SequenceNumber,
  Severity,
  Sha256Hex,
  Signature,
  TenantId,
  Tier,
  Timestamp,
  Uuid,
} from "./common.ts";
import { L1RuleSetRejectionReason } from "./l1-rules.ts";
import { OrderOutcome, OrderRejectionReason, SuspensionReason } from "./orders.ts";

/** A witness cosignature: a C2SP signed-note line (cosignature/v1, protocol/cosignature.ts). */
export const CosignatureLine = z
  .string()
  .regex(/^— [\x21-\x7e]{1,200} [A-Za-z0-9+/]{102}==$/, "expected a cosignature/v1 note line");

/**
 * What an evidence bundle records. System state, hashes and names only: no log lines and no
 * file contents of the clinic's systems, because WORM storage could never delete PHI.
 */
export const EvidenceEvent = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("check_result"),
    check_id: CheckId,
    status: z.enum(["pass", "drift", "skipped", "error"]),
    severity: Severity,
    findings: z.array(Finding).max(64),
    duration_ms: z.number().min(0),
    /** The HIPAA Security Rule citations this result bears on (from the baseline's toggles). */
    citations: z
      .array(
        z
          .string()
          .regex(/^45 CFR 164\.\d{3}\([a-z]\)[()0-9a-zA-Z]*$/)
          .max(64),
      )
      .max(32)
      .optional(),
    /** Why a check was skipped or could not see what it checks (status skipped or error). */
    reason: z.string().max(500).optional(),
    /**
     * The state the check observed, flat names and scalars (the pre-state a heal starts from):
     * system paths, unit states, hashes, counts; never log lines or file contents.
     */
    pre_state: z
      .record(
        z
          .string()
          .regex(/^[a-zA-Z][a-zA-Z0-9_.@:/-]*$/)
          .max(128),
        Scalar,
      )
      .refine((r) => Object.keys(r).length <= 64, "at most 64 entries")
      .optional(),
  }),
  z.strictObject({
    kind: z.literal("healing_step"),
    runbook_id: RunbookId,
    runbook_version: z.int().min(1),
    tier: Tier,
    order_id: Uuid.optional(),
    incident_id: Uuid.optional(),
    step: z.int().min(0),
    action: z.string().regex(/^[a-z][a-z0-9_.]*$/, "use an action name such as systemd.restart"),
    phase: z.enum(["precondition", "step", "verify", "rollback"]),
    outcome: z.enum(["succeeded", "failed", "skipped"]),
    duration_ms: z.number().min(0),
    findings: z.array(Finding).max(64),
  }),
  z.strictObject({
    kind: z.literal("order_accepted"),
    order_id: Uuid,
    order_seq: SequenceNumber,
    runbook_id: RunbookId,
    tier: Tier,
    /** Hash of the order's signed bytes, binding this record to what the control plane signed. */
    order_hash: Sha256Hex,
  }),
  z.strictObject({
    kind: z.literal("order_rejected"),
    /** `expired` when the order's validity window had passed, `rejected` for every other reason. */
    outcome: z.enum(["rejected", "expired"]),
    reason: OrderRejectionReason,
    detail: z.string().max(500),
    /** As claimed by the refused order; unverified by definition. */
    order_id: Uuid.optional(),
    order_seq: SequenceNumber.optional(),
    runbook_id: RunbookId.optional(),
    order_hash: Sha256Hex.optional(),
  }),
  z.strictObject({
    kind: z.literal("order_result"),
    order_id: Uuid,
    order_seq: SequenceNumber,
    runbook_id: RunbookId,
    outcome: OrderOutcome,
    duration_ms: z.number().min(0),
  }),
  z.strictObject({
    kind: z.literal("incident_opened"),
    incident_id: Uuid,
    check_id: CheckId,
    severity: Severity,
  }),
  z.strictObject({
    kind: z.literal("alert"),
    code: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, "use snake_case, for example disk_full")
      .max(64),
    severity: Severity,
    subject: z.string().max(256).optional(),
    message: z.string().max(500),
  }),
  /**
   * What the healer decided for one drift (L1) or order: healed, or why not. `deferred` waits
   * for the maintenance window; `reverted` means verification failed and the rollback ran.
   */
  z.strictObject({
    kind: z.literal("healing_attempt"),
    runbook_id: RunbookId.optional(),
    runbook_version: z.int().min(1).optional(),
    tier: Tier,
    check_id: CheckId.optional(),
    order_id: Uuid.optional(),
    incident_id: Uuid.optional(),
    outcome: z.enum([
      "healed",
      "notified",
      "failed",
      "reverted",
      "deferred",
      "audit_only",
      "paused",
      "cooldown",
      "exhausted",
      "no_rule",
      "precondition_failed",
      /** A flywheel rule matched while the control plane suspends automatic healing. */
      "suspended",
    ]),
    attempt: z.int().min(0).optional(),
    detail: z.string().max(500).optional(),
  }),
  /** The kill switch: a signed order paused or resumed all healing on this appliance. */
  z.strictObject({
    kind: z.literal("healing_control"),
    event: z.enum(["paused", "resumed"]),
    order_id: Uuid,
  }),
  /** A verified poll withdrew an order: it was never started on this appliance. */
  z.strictObject({
    kind: z.literal("order_withdrawn"),
    order_id: Uuid,
    order_seq: SequenceNumber,
    runbook_id: RunbookId,
    reason: SuspensionReason,
    withdrawn_at: Timestamp,
  }),
  /**
   * The control plane suspended (kill switch, audit-only) or lifted the automatic healing it
   * governs, as stated in a verified poll response; recorded once per change.
   */
  z.strictObject({
    kind: z.literal("healing_suspension"),
    event: z.enum(["suspended", "lifted"]),
    reasons: z.array(SuspensionReason).max(2),
    detail: z.string().max(300),
  }),
  z.strictObject({
    kind: z.literal("l1_rules_applied"),
    version: SequenceNumber,
    /** SHA-256 of the rule set's signed bytes. */
    rule_set_hash: Sha256Hex,
    rules: z.int().min(0),
  }),
  z.strictObject({
    kind: z.literal("l1_rules_refused"),
    reason: L1RuleSetRejectionReason,
    detail: z.string().max(500),
    /** As claimed by the refused set; unverified by definition. */
    version: SequenceNumber.optional(),
    rule_set_hash: Sha256Hex.optional(),
  }),
  z.strictObject({
    /** The appliance verified a signed checkpoint of its log and its consistency with the last. */
    kind: z.literal("checkpoint_verified"),
    tree_size: SequenceCount,
    root_hash: Sha256Hex,
    issued_at: Timestamp,
    /** The tree size of the checkpoint it was proven consistent with (0: the first). */
    from_size: SequenceCount,
    /**
     * The appliance's witness cosignature of that checkpoint: a C2SP signed-note line
     * (cosignature/v1, protocol/cosignature.ts) with the evidence key.
     */
    cosignature: CosignatureLine.optional(),
  }),
  /**
   * The first bundle of every chain, signed with the evidence key it names: the appliance states
   * its own key id (hex SHA-256 of the raw public key, what its console shows at enrollment) and
   * the control-plane key id it pins. An auditor's pin of either can then be checked against
   * what the appliance itself said before the MSP handled any of its evidence.
   */
  z.strictObject({
    kind: z.literal("enrollment_statement"),
    key_id: Sha256Hex,
    control_plane_key_id: Sha256Hex,
    agent_version: z.string().min(1).max(64),
  }),
  z.strictObject({
    kind: z.literal("agent_lifecycle"),
    event: z.enum(["key_generated", "enrolled", "started", "stopping", "config_loaded"]),
    agent_version: z.string().min(1).max(64),
  }),
]);
export type EvidenceEvent = z.infer<typeof EvidenceEvent>;

/** The first bundle of every appliance points at this all-zero hash. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * One link of an appliance's evidence chain. Its hash is SHA-256 over the canonical JSON of the
 * bundle without `sig`; `sig` is the appliance key's Ed25519 signature over those same bytes.
 */
export const EvidenceBundle = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("evidence_bundle"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  seq: SequenceNumber,
  prev_hash: Sha256Hex,
  /** The appliance clock at recording time: informative, never trusted for ordering. */
  recorded_at: Timestamp,
  event: EvidenceEvent,
  sig: Signature,
});
export type EvidenceBundle = z.infer<typeof EvidenceBundle>;

export const MAX_BUNDLES_PER_UPLOAD = 500;

/** Appliance → control plane: a batch of consecutive bundles, oldest first. */
export const EvidenceUpload = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("evidence_upload"),
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  bundles: z.array(EvidenceBundle).min(1).max(MAX_BUNDLES_PER_UPLOAD),
});
export type EvidenceUpload = z.infer<typeof EvidenceUpload>;

/**
 * Control plane → appliance: signed proof that the control plane verified and stored the
 * bundles `first_seq..last_seq`, ending in `last_hash`. The appliance keeps every receipt.
 */
export const EvidenceReceipt = z
  .strictObject({
    v: ProtocolVersion,
    type: z.literal("evidence_receipt"),
    receipt_id: Uuid,
    tenant_id: TenantId,
    appliance_id: ApplianceId,
    first_seq: SequenceNumber,
    last_seq: SequenceNumber,
    last_hash: Sha256Hex,
    received_at: Timestamp,
    sig: Signature,
  })
  .refine((r) => r.last_seq >= r.first_seq, {
    path: ["last_seq"],
    message: "must not be below first_seq",
  });
export type EvidenceReceipt = z.infer<typeof EvidenceReceipt>;
