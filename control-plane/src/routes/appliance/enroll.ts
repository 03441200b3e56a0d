import {
  constantTimeEqual,
  type EnrollmentRequest,
  EnrollmentResponse,
  keyId,
  ProtocolError,
  publicKeyFromBase64,
  publicKeyToBase64,
  sha256Hex,
  signDocument,
  verificationKey,
  verifyDocument,
} from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { csrKeyFingerprint, signClientCsr } from "../../pki/index.ts";
import type { ApplianceRecord, EnrollmentClaim } from "../../store/index.ts";
import { applianceRoute } from "./contract.ts";

/** How long a pending appliance waits before asking again. */
const PENDING_RETRY_S = 30;

/**
 * Enrollment over server-authenticated TLS (docs/architecture.md, trust model "Appliance identity").
 * A MAC only finds the registration; proof is the one-time token (hashed, single use, expiring,
 * compared in constant time) or an operator's approval of the presented key fingerprint. Without
 * a token, every answer short of `enrolled` is the same `pending`, whatever is registered.
 */
export function enrollRoute(s: Services) {
  return applianceRoute("enroll", {
    summary: "Enroll an appliance: a one-time token or an operator's approval of its key",
    bodyLabel: "enrollment request",
    limit: "enrollment",
    handler: async (c, req) => {
      checkPossession(req);
      const claim: EnrollmentClaim = {
        evidencePublicKey: req.evidence_public_key,
        evidenceKeyFingerprint: req.evidence_key_fingerprint,
        csrPem: req.tls_csr_pem,
        hostname: req.hostname,
        agentVersion: req.agent_version,
      };
      const response =
        req.enrollment_token !== undefined
          ? await enrollWithToken(s, req, req.enrollment_token, claim)
          : await enrollWithApproval(s, req, claim);
      return c.json(response);
    },
  });
}

/**
 * The request must be signed by the evidence key it presents, and that key's id must be the
 * fingerprint it presents: proof of possession, checked before any registration is looked up (so
 * the refusal says nothing about MACs). The public key alone is no proof: it is shown on the
 * console and signed into every bundle, so a client that learned it could otherwise hold the claim
 * an operator approves by that fingerprint.
 */
function checkPossession(req: EnrollmentRequest): void {
  let key: ReturnType<typeof publicKeyFromBase64>;
  try {
    key = publicKeyFromBase64(req.evidence_public_key);
  } catch (cause) {
    if (cause instanceof ProtocolError) {
      throw new ControlPlaneError("invalid_request", "evidence_public_key is not an Ed25519 key", {
        cause,
      });
    }
    throw cause;
  }
  if (keyId(key) !== req.evidence_key_fingerprint) {
    throw new ControlPlaneError(
      "invalid_request",
      "evidence_key_fingerprint is not the key id of evidence_public_key",
    );
  }
  if (!verifyDocument(req, verificationKey(key))) {
    throw new ControlPlaneError(
      "invalid_request",
      "sig is not a signature of this request by evidence_public_key: the appliance must sign its enrollment request with its evidence key",
    );
  }
}

async function enrollWithToken(
  s: Services,
  req: EnrollmentRequest,
  token: string,
  claim: EnrollmentClaim,
): Promise<EnrollmentResponse> {
  const hash = sha256Hex(new TextEncoder().encode(token));
  const reg = await s.store.findByTokenHash(hash);
  const now = s.now();
  const valid =
    reg !== undefined &&
    reg.tokenHash !== null &&
    constantTimeEqual(reg.tokenHash, hash) &&
    reg.tokenUsedAt === null &&
    reg.tokenExpiresAt !== null &&
    Date.parse(reg.tokenExpiresAt) > now.getTime() &&
    (reg.status === "registered" || reg.status === "pending") &&
    req.mac_addresses.some((mac) => reg.macs.includes(mac));
  if (!reg || !valid) {
    s.logger.log("warn", "enrollment token refused", {
      reason: "invalid, used, expired or MAC mismatch",
    });
    throw new ControlPlaneError("token_invalid", "");
  }
  return issue(s, reg, claim, true);
}

async function enrollWithApproval(
  s: Services,
  req: EnrollmentRequest,
  claim: EnrollmentClaim,
): Promise<EnrollmentResponse> {
  const candidates = await s.store.findEnrollableByMac(req.mac_addresses);
  // Only an approval-only registration (no token) found by exactly one site may change here. For
  // every other case (no registration, several, a token site, an approval of another key) the
  // answer is the same signed `pending` with nothing stored, so a MAC alone neither changes a
  // registration nor tells an outsider which MACs are registered.
  const reg = candidates.length === 1 ? candidates[0] : undefined;
  if (reg?.tokenHash === null) {
    // The claim binds both keys: the evidence key the operator compares on the console and the
    // TLS key of the request stored with it. The evidence key is public (a second client can
    // send it with a key of its own); the request's self-signature proves the TLS key, so only
    // the box that made the stored claim can be issued a certificate on its approval, and a
    // claim naming the same evidence key with another TLS key never replaces the stored one.
    const tlsKey = csrKeyFingerprint(claim.csrPem);
    const sameEvidenceKey = reg.evidenceKeyFingerprint === claim.evidenceKeyFingerprint;
    const sameTlsKey = tlsKey !== null && csrKeyFingerprint(reg.csrPem) === tlsKey;
    if (reg.status === "approved") {
      if (sameEvidenceKey && sameTlsKey) return issue(s, reg, claim, false);
    } else if (sameEvidenceKey && !sameTlsKey) {
      s.logger.log("warn", "enrollment claim with another TLS key for a pending evidence key", {
        tenant_id: reg.tenantId,
        appliance_id: reg.applianceId,
      });
    } else if (!(await s.store.setPending(reg.tenantId, reg.applianceId, claim))) {
      throw new ControlPlaneError("conflict", "the registration changed; retry");
    } else {
      s.logger.log("info", "enrollment pending", {
        tenant_id: reg.tenantId,
        appliance_id: reg.applianceId,
        evidence_key_fingerprint: claim.evidenceKeyFingerprint,
      });
    }
  }
  return signDocument<Extract<EnrollmentResponse, { status: "pending" }>>(
    EnrollmentResponse,
    {
      v: 1,
      type: "enrollment_response",
      status: "pending",
      evidence_key_fingerprint: claim.evidenceKeyFingerprint,
      retry_after_s: PENDING_RETRY_S,
    },
    s.signer,
  );
}

async function issue(
  s: Services,
  reg: ApplianceRecord,
  claim: EnrollmentClaim,
  consumeToken: boolean,
): Promise<EnrollmentResponse> {
  const tenant = await s.store.getTenant(reg.tenantId);
  if (!tenant) throw new ControlPlaneError("internal", "registration without tenant");
  const ca = { certPem: tenant.caCertPem, keyPem: s.secretBox.open(tenant.caKeySealed) };
  // A CSR that does not parse or verify is the caller's fault: an invalid_request with detail.
  const cert = await signClientCsr(ca, claim.csrPem, reg, s.clientCertDays, s.now());
  const at = s.now().toISOString();
  const activated = await s.store.activate(
    reg.tenantId,
    reg.applianceId,
    { ...claim, certPem: cert.certPem, certFingerprint: cert.fingerprint, at },
    consumeToken,
  );
  if (!activated) {
    // Lost a race with another use of the same token or approval: single use holds.
    throw new ControlPlaneError(consumeToken ? "token_invalid" : "enrollment_refused", "");
  }
  await s.audit.record(
    `appliance:${reg.tenantId}/${reg.applianceId}`,
    "appliance.enrolled",
    `${reg.tenantId}/${reg.applianceId}`,
    {
      via: consumeToken ? "token" : "approval",
      evidence_key_fingerprint: claim.evidenceKeyFingerprint,
      certificate_fingerprint: cert.fingerprint,
    },
  );
  s.logger.log("info", "appliance enrolled", {
    tenant_id: reg.tenantId,
    appliance_id: reg.applianceId,
  });
  return signDocument<Extract<EnrollmentResponse, { status: "enrolled" }>>(
    EnrollmentResponse,
    {
      v: 1,
      type: "enrollment_response",
      status: "enrolled",
      tenant_id: reg.tenantId,
      appliance_id: reg.applianceId,
      evidence_key_fingerprint: claim.evidenceKeyFingerprint,
      client_certificate_pem: cert.certPem,
      ca_certificate_pem: tenant.caCertPem,
      order_signing_public_key: publicKeyToBase64(s.signer.publicKey),
      settings: reg.settings,
    },
    s.signer,
  );
}
