import { z } from "zod";
import {
  AgentSettings,
  ApplianceId,
  MacAddress,
  OrderParams,
  RunbookId,
  Sha256Hex,
  TenantId,
  Tier,
  Uuid,
} from "#protocol";

/** Admin API bodies (Pulumi's ApplianceEnrollment resource and tests). Strict, like the wire. */
export const DEFAULT_SETTINGS: AgentSettings = {
  poll_interval_s: 60,
  poll_jitter: 0.1,
  evidence_batch_max: 200,
};

export const RegisterSite = z
  .strictObject({
    tenant_id: TenantId,
    appliance_id: ApplianceId,
    /**
     * The tenant CA (ECDSA P-256) the first time a tenant is registered; must match afterwards.
     * Omit both for a new tenant and the control plane makes the CA (lab, tests).
     */
    ca_cert_pem: z.string().max(16_384).optional(),
    ca_key_pem: z.string().max(16_384).optional(),
    mac_addresses: z.array(MacAddress).min(1).max(16),
    retention_days: z.int().min(2192).max(36_500).default(2192),
    settings: AgentSettings.default(DEFAULT_SETTINGS),
    /** Supply the token's SHA-256 instead of letting the control plane make one (Pulumi secret). */
    enrollment_token_sha256: Sha256Hex.optional(),
    /** No token at all: the appliance waits for operator approval. */
    approval_only: z.boolean().default(false),
    token_ttl_s: z
      .int()
      .min(60)
      .max(90 * 24 * 3600)
      .default(7 * 24 * 3600),
  })
  .refine((b) => !(b.approval_only && b.enrollment_token_sha256), {
    message: "approval_only and enrollment_token_sha256 exclude each other",
  });
export type RegisterSite = z.infer<typeof RegisterSite>;

export const Approve = z.strictObject({ evidence_key_fingerprint: Sha256Hex });

export const CreateOrder = z.strictObject({
  runbook_id: RunbookId,
  params: OrderParams.default({}),
  tier: Tier.default("L3"),
  ttl_s: z
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
});

/** Path parameters, checked before the handler runs (a bad one is a 400 naming it). */
export const TenantParams = z.object({ tenant: TenantId });
export const ApplianceParams = z.object({ tenant: TenantId, appliance: ApplianceId });
export const IncidentParams = ApplianceParams.extend({ incident: Uuid });
export const ProposalParams = TenantParams.extend({ proposal: Uuid });

/** A lenient page position: a missing or unreadable value falls back to the default. */
export const Paging = z.object({
  after: z.string().optional(),
  limit: z.string().optional(),
});
export const pageNumber = (
  value: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
) => Math.min(max, Math.max(min, Number.parseInt(value ?? "", 10) || fallback));
