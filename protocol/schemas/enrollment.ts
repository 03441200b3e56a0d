import { z } from "zod";
import {
  ApplianceId,
  CheckId,
  Ed25519PublicKeyBase64,
  Nonce,
  ProtocolVersion,
  Sha256Hex,
  Signature,
  TenantId,
  Timestamp,
} from "./common.ts";

/** Colon-separated lower-case MAC address; the agent normalizes before sending. */
export const MacAddress = z
  .string()
  .regex(/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/, "use lower-case aa:bb:cc:dd:ee:ff");

const Pem = (label: string) =>
  z
    .string()
    .max(16_384)
    .regex(
      new RegExp(`^-----BEGIN ${label}-----\\n[A-Za-z0-9+/=\\n]+-----END ${label}-----\\n?$`),
      `expected a PEM block labelled ${label}`,
    );

/**
 * Version of the enrollment request. Version 1 carried no signature: anyone who had learned an
 * appliance's public evidence key could claim it. Version 2 is signed by the evidence key, and
 * the control plane refuses any other version with a message that names the upgrade.
 */
export const ENROLLMENT_REQUEST_VERSION = 2;

/**
 * Appliance → control plane, before it has a client certificate. A MAC address only finds the
 * pre-registered site; the request is proven by the one-time enrollment token or by an operator
 * who compares `evidence_key_fingerprint` with the appliance console. A MAC alone proves nothing.
 *
 * `sig` is the appliance's evidence key over the whole request (MACs, the exact CSR, token,
 * `nonce`, `requested_at`): proof of possession of the private key behind the fingerprint the
 * operator compares, so a client that knows only the public key cannot hold the claim. The CSR's
 * own self-signature proves the TLS key the same way, so the request binds both keys.
 */
export const EnrollmentRequest = z.strictObject({
  v: z.literal(ENROLLMENT_REQUEST_VERSION, {
    error:
      "enrollment requests are version 2, signed with the evidence key; version 1 (unsigned) is no longer accepted: update the agent",
  }),
  type: z.literal("enrollment_request"),
  mac_addresses: z.array(MacAddress).min(1).max(16),
  hostname: z.string().regex(/^[a-zA-Z0-9.-]{1,253}$/, "expected a host name"),
  agent_version: z.string().min(1).max(64),
  evidence_public_key: Ed25519PublicKeyBase64,
  /** Key id of `evidence_public_key` (hex SHA-256 of the raw key), as shown on the console. */
  evidence_key_fingerprint: Sha256Hex,
  /** PKCS #10 request for the mTLS client certificate (ECDSA P-256 key made on the appliance). */
  tls_csr_pem: Pem("CERTIFICATE REQUEST"),
  enrollment_token: z.string().min(16).max(256).optional(),
  /** Made by the appliance for each request, so no two requests have the same signed bytes. */
  nonce: Nonce,
  /**
   * The appliance's clock when it signed. Not held against the control plane's clock: a first
   * boot's clock may be off, and a replayed request can only claim for the holder of the CSR's key.
   */
  requested_at: Timestamp,
  /** By the evidence key (`key_id` is `evidence_key_fingerprint`). */
  sig: Signature,
});
export type EnrollmentRequest = z.infer<typeof EnrollmentRequest>;

export const AgentSettings = z.strictObject({
  poll_interval_s: z.int().min(10).max(3600),
  /** Uniform jitter as a fraction of the interval: 0.1 means ±10 %. */
  poll_jitter: z.number().min(0).max(0.5),
  evidence_batch_max: z.int().min(1).max(1000),
  /**
   * The site's healing policy, set by the operator. It can only restrict: audit here makes the
   * appliance audit-only whatever its local config says, and the checks listed are added to the
   * local audit-only checks.
   */
  healing: z
    .strictObject({
      mode: z.enum(["enforce", "audit"]),
      audit_only_checks: z.array(CheckId).max(32),
    })
    .optional(),
});
export type AgentSettings = z.infer<typeof AgentSettings>;

const EnrollmentCommon = {
  v: ProtocolVersion,
  type: z.literal("enrollment_response"),
  sig: Signature,
};

/**
 * Control plane → appliance. Signed with the order-signing key the appliance already pins,
 * so the answer is bound to the control plane the appliance was built to trust.
 */
export const EnrollmentResponse = z.discriminatedUnion("status", [
  z.strictObject({
    ...EnrollmentCommon,
    status: z.literal("enrolled"),
    tenant_id: TenantId,
    appliance_id: ApplianceId,
    evidence_key_fingerprint: Sha256Hex,
    client_certificate_pem: Pem("CERTIFICATE"),
    ca_certificate_pem: Pem("CERTIFICATE"),
    order_signing_public_key: Ed25519PublicKeyBase64,
    settings: AgentSettings,
  }),
  z.strictObject({
    ...EnrollmentCommon,
    status: z.literal("pending"),
    /** Echoed so the console can show what the operator must compare. */
    evidence_key_fingerprint: Sha256Hex,
    retry_after_s: z.int().min(1).max(3600),
  }),
]);
export type EnrollmentResponse = z.infer<typeof EnrollmentResponse>;
