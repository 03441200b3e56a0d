import { z } from "zod";
import {
  AgentSettings,
  ChainHead,
  DecisionRecord,
  EvidenceBundle,
  ExportManifest,
  Incident,
  L1RuleEntry,
  OrderParams,
  QualificationReport,
} from "#protocol";
import { CHANGE_ACTIONS } from "../../store/port.ts";

/**
 * What the operator API answers, one schema per shape. They document each operation in
 * /openapi.json; a test checks the answers the app gives against them (checkResponses), so a
 * handler that changes its answer changes its schema too.
 */
const Nullable = z.string().nullable();

/** An appliance as the operator API shows it (views.ts `describe`): no token hash, no CA. */
export const ApplianceView = z.object({
  tenant_id: z.string(),
  appliance_id: z.string(),
  status: z.enum(["registered", "pending", "approved", "active", "revoked"]),
  mac_addresses: z.array(z.string()),
  settings: AgentSettings,
  evidence_key_fingerprint: Nullable,
  /** SHA-256 of the TLS key in the claim's request: the key an approval lets enroll. */
  tls_key_fingerprint: Nullable,
  certificate_fingerprint: Nullable,
  hostname: Nullable,
  agent_version: Nullable,
  order_seq: z.int(),
  evidence_head: ChainHead,
  enrolled_at: Nullable,
  revoked_at: Nullable,
  last_seen_at: Nullable,
  token_used: z.boolean(),
});

/** A new one-time enrollment token is shown once, in the answer that made it. */
const TokenIssued = z.object({
  tenant_id: z.string(),
  appliance_id: z.string(),
  enrollment_token: z.string().optional(),
  token_expires_at: Nullable,
});

export const SiteRegistered = TokenIssued.extend({ tenant_ca_certificate_pem: z.string() });
export const TokenRotated = TokenIssued.extend({ token_expires_at: z.string() });

/** Removal: the registration deleted, or (once enrolled) the appliance kept, revoked. */
export const SiteRemoved = z.union([
  z.object({ tenant_id: z.string(), appliance_id: z.string(), deleted: z.literal(true) }),
  ApplianceView.extend({ deleted: z.literal(false) }),
]);

export const OrderView = z.object({
  order_id: z.string(),
  tenant_id: z.string(),
  appliance_id: z.string(),
  seq: z.int(),
  runbook_id: z.string(),
  params: OrderParams,
  tier: z.enum(["L1", "L2", "L3"]),
  issued_at: z.string(),
  expires_at: z.string(),
  status: z.enum([
    "pending",
    "delivered",
    "succeeded",
    "failed",
    "rejected",
    "expired",
    "withdrawn",
  ]),
  result: z.unknown(),
  /** Set when the kill switch or the site's audit-only mode withdrew it (who, when, why). */
  withdrawal: z
    .object({
      reason: z.enum(["kill_switch", "audit_only"]),
      by: z.string(),
      at: z.string(),
      previous_status: z.enum(["pending", "delivered"]),
    })
    .nullable(),
});

export const EvidencePage = z.object({ head: ChainHead, bundles: z.array(EvidenceBundle) });

export const Alerts = z.array(
  z.object({
    tenantId: z.string(),
    applianceId: z.string(),
    code: z.string(),
    detail: z.string(),
    createdAt: z.string(),
  }),
);

/** The incident pipeline's statuses (store/planner). */
export const IncidentStatus = z.enum([
  "queued",
  "planning",
  "ordered",
  "escalated",
  "resolved",
  "rejected",
  "resolved_manually",
]);

export const Incidents = z.array(z.object({ status: z.string(), incident: Incident }));

export const AuditVerdict = z.object({
  ok: z.boolean(),
  entries: z.int(),
  first_broken_seq: z.int().nullable(),
});

export const AuditPage = z.array(
  z.object({
    seq: z.int(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    detailJson: z.string(),
    prevHash: z.string(),
    hash: z.string(),
  }),
);

export const ExportWritten = z.object({
  export_id: z.string(),
  files: z.array(z.string()),
  manifest: ExportManifest,
});

const Packet = z.object({
  month: z.string(),
  version: z.int(),
  generated_at: z.string(),
  reason: z.string().nullable(),
  manifest_sha256: z.string().nullable(),
  previous_manifest_sha256: z.string().nullable(),
  files: z.array(z.string()),
});
export const PacketJob = z.object({
  job_id: z.string(),
  month: z.string(),
  status: z.enum(["queued", "running", "done", "failed"]),
  progress: z.number().min(0).max(1),
  requested_by: z.string(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  rerun_of: z.string().nullable(),
  version: z.int().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export const PacketJobs = z.object({ jobs: z.array(PacketJob) });
export const Packets = z.object({
  packets: z.array(
    Packet.extend({ requested_by: z.string(), counts: z.record(z.string(), z.number()) }),
  ),
});

export const QueueState = z.object({
  kind: z.enum(["none", "in-process", "nats"]),
  pending: z.int(),
  dead_letter_count: z.int().optional(),
  dead_letters: z.array(
    z.object({
      tenant_id: z.string(),
      kind: z.string(),
      id: z.string(),
      deliveries: z.int(),
      error: z.string(),
      at: z.string(),
    }),
  ),
});

// ── The planner's operator API ──────────────────────────────────────────────────────────────

export const Escalations = z.array(
  z.object({
    tenant_id: z.string(),
    appliance_id: z.string(),
    incident_id: z.string(),
    status: IncidentStatus,
    updated_at: z.string(),
    received_at: z.string(),
    note: z.record(z.string(), z.unknown()),
    incident: Incident,
  }),
);

export const IncidentDetail = z.object({
  status: IncidentStatus,
  note: z.record(z.string(), z.unknown()),
  incident: Incident,
  decisions: z.array(DecisionRecord),
});

export const IncidentOrdered = z.object({
  order_id: z.string(),
  seq: z.int(),
  runbook_id: z.string(),
  params: OrderParams,
});

export const IncidentClosed = z.object({ status: z.enum(["rejected", "resolved_manually"]) });

export const KillSwitchState = z.object({ engaged: z.boolean(), reason: z.string() });

/** The L2 qualification gate for the configured model server and model. */
export const QualificationState = z.object({
  /** False: no model is configured, every incident goes to a person. */
  configured: z.boolean(),
  base_url: z.string().optional(),
  model: z.string().optional(),
  /** Whether L2 may order with this model now. */
  l2_open: z.boolean(),
  reason: z.string().optional(),
  /** The newest signed report for this server and model, when one verifies. */
  report: QualificationReport.optional(),
});

export const Proposals = z.array(
  z.object({
    proposal_id: z.string(),
    pattern: z.string(),
    check_id: z.string(),
    finding: z.string(),
    runbook_id: z.string(),
    successes: z.int(),
    status: z.enum(["proposed", "approved", "rejected"]),
    created_at: z.string(),
    decided_at: Nullable,
    decided_by: Nullable,
    note: Nullable,
  }),
);

export const ProposalDecided = z.object({
  status: z.enum(["approved", "rejected"]),
  rule_set_version: z.int().optional(),
  rule_id: z.string().optional(),
});

export const RuleSet = z.object({
  version: z.int(),
  issuedAt: Nullable,
  rules: z.array(L1RuleEntry),
});

export const RuleRevoked = z.object({ version: z.int() });

export const Decisions = z.object({ verified: z.boolean(), records: z.array(DecisionRecord) });

/** A change waiting for (or decided by) a second operator (changes/index.ts). */
export const ChangeRequest = z.object({
  request_id: z.string(),
  action: z.enum(CHANGE_ACTIONS),
  tenant_id: Nullable,
  target: z.string(),
  /** The change as it will apply. */
  change: z.unknown(),
  reason: z.string(),
  requested_by: z.string(),
  requested_at: z.string(),
  expires_at: z.string(),
  status: z.enum(["pending", "approved", "rejected"]),
  /** Pending past its expiry: it can no longer be approved. */
  expired: z.boolean(),
  decided_by: Nullable,
  decided_at: Nullable,
  note: Nullable,
});
export const ChangeRequests = z.array(ChangeRequest);

/** The answer (202) of a change that now waits for a second operator instead of applying. */
export const PendingApproval = z.object({
  status: z.literal("pending_approval"),
  change_request: ChangeRequest,
});
