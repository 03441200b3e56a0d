import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import {
  AgentSettings,
  APPLIANCE_API,
  ApplianceId,
  backoffDelay,
  ENROLLMENT_REQUEST_VERSION,
  EnrollmentRequest,
  EnrollmentResponse,
  ProtocolError,
  randomNonce,
  signDocument,
  TenantId,
  tryParseMessage,
  type VerificationKey,
  verifyDocument,
} from "#protocol";
import { writeFileAtomic } from "./atomic-file.ts";
import { createCsrPem } from "./csr.ts";
import { AgentError, isAgentError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import { errorFields, type Logger } from "./log.ts";
import type { Clock, Host } from "./ports.ts";
import type { Transport } from "./transport.ts";

/** What enrollment leaves in the state dir (enrollment.json; the PEMs beside it). */
export const StoredEnrollment = z.strictObject({
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  evidence_key_fingerprint: z.string(),
  settings: AgentSettings,
  enrolled_at: z.string(),
});
export type StoredEnrollment = z.infer<typeof StoredEnrollment>;

export interface Enrollment extends StoredEnrollment {
  readonly clientCertPem: string;
  readonly caCertPem: string;
}

export const enrollmentFiles = (stateDir: string) => ({
  record: join(stateDir, "enrollment.json"),
  clientCert: join(stateDir, "client-cert.pem"),
  caCert: join(stateDir, "client-ca.pem"),
});

export function readEnrollment(stateDir: string, fingerprint: string): Enrollment | null {
  const files = enrollmentFiles(stateDir);
  if (!existsSync(files.record)) return null;
  const parsed = tryParseMessage(StoredEnrollment, JSON.parse(readFileSync(files.record, "utf8")));
  if (!parsed.ok) {
    throw new AgentError("invalid_config", `${files.record} is damaged:\n${parsed.problem}`);
  }
  if (parsed.value.evidence_key_fingerprint !== fingerprint) {
    throw new AgentError(
      "invalid_key",
      `${files.record} belongs to another evidence key; the key file was replaced after enrollment`,
    );
  }
  return {
    ...parsed.value,
    clientCertPem: readFileSync(files.clientCert, "utf8"),
    caCertPem: readFileSync(files.caCert, "utf8"),
  };
}

export interface EnrollDeps {
  readonly stateDir: string;
  readonly identity: Identity;
  readonly pinnedKey: VerificationKey;
  readonly pinnedKeyBase64: string;
  readonly enrollmentToken?: string;
  readonly agentVersion: string;
  readonly host: Host;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxBackoffMs: number;
  readonly random?: () => number;
}

/**
 * Enrolls until the control plane says `enrolled` or `signal` aborts (then returns null). Every
 * answer must be signed by the pinned order-signing key and name that same key and our
 * fingerprint; anything else is refused and retried later, never stored.
 */
export async function enroll(deps: EnrollDeps, signal: AbortSignal): Promise<Enrollment | null> {
  const unsigned = {
    v: ENROLLMENT_REQUEST_VERSION,
    type: "enrollment_request",
    mac_addresses: deps.host.macAddresses().slice(0, 16),
    hostname: deps.host.hostname(),
    agent_version: deps.agentVersion,
    evidence_public_key: deps.identity.evidencePublicKey,
    evidence_key_fingerprint: deps.identity.fingerprint,
    tls_csr_pem: createCsrPem(
      deps.identity.tlsKeyPem,
      `appliance-${deps.identity.fingerprint.slice(0, 16)}`,
    ),
    ...(deps.enrollmentToken ? { enrollment_token: deps.enrollmentToken } : {}),
  } as const;
  if (unsigned.mac_addresses.length === 0) {
    throw new AgentError("host_failure", "no MAC address found on any network interface");
  }
  // Each attempt is signed afresh by the evidence key (its own nonce and time): the control plane
  // admits a claim only with this proof that the key behind the fingerprint is held here.
  const signed = (): EnrollmentRequest =>
    signDocument<EnrollmentRequest>(
      EnrollmentRequest,
      { ...unsigned, nonce: randomNonce(), requested_at: deps.clock.now().toISOString() },
      deps.identity.signer,
    );
  // Checked here, not by the control plane: a bad token file should fail at once, not forever.
  try {
    signed();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const what = /enrollment_token/.test(error.message)
      ? "the enrollment token file (16-256 characters expected)"
      : "the enrollment request";
    throw new AgentError("invalid_config", `${what} is invalid:\n${error.message}`, {
      cause: error,
    });
  }
  for (let attempt = 0; !signal.aborted; attempt++) {
    let waitMs = backoffDelay(attempt, 5_000, deps.maxBackoffMs, 0.1, deps.random);
    try {
      const answer = await deps.transport.post(APPLIANCE_API.enroll, signed(), signal);
      if (!answer.ok) {
        deps.log.log("warn", "enrollment refused", {
          status: answer.status,
          code: answer.problem?.code ?? null,
        });
      } else {
        const response = verifyEnrollmentResponse(answer.body, deps);
        if (response.status === "enrolled") return store(deps, response);
        deps.log.log("info", "enrollment pending: operator must compare the key fingerprint", {
          fingerprint: deps.identity.fingerprint,
          retry_after_s: response.retry_after_s,
        });
        waitMs = Math.max(waitMs, response.retry_after_s * 1000);
      }
    } catch (error) {
      if (!isAgentError(error)) throw error;
      deps.log.log("warn", "enrollment attempt failed", errorFields(error));
    }
    await deps.clock.sleep(Math.min(waitMs, deps.maxBackoffMs * 1.1), signal);
  }
  return null;
}

export function verifyEnrollmentResponse(
  raw: unknown,
  deps: Pick<EnrollDeps, "pinnedKey" | "pinnedKeyBase64" | "identity">,
): EnrollmentResponse {
  const parsed = tryParseMessage(EnrollmentResponse, raw);
  if (!parsed.ok) {
    throw new AgentError("bad_response", `enrollment response is invalid:\n${parsed.problem}`);
  }
  const response = parsed.value;
  if (!verifyDocument(response, deps.pinnedKey)) {
    throw new AgentError(
      "untrusted_response",
      "enrollment response is not signed by the pinned key",
    );
  }
  if (response.evidence_key_fingerprint !== deps.identity.fingerprint) {
    throw new AgentError("untrusted_response", "enrollment response names another evidence key");
  }
  if (
    response.status === "enrolled" &&
    response.order_signing_public_key !== deps.pinnedKeyBase64
  ) {
    throw new AgentError("untrusted_response", "enrollment response names another order key");
  }
  return response;
}

function store(
  deps: EnrollDeps,
  response: Extract<EnrollmentResponse, { status: "enrolled" }>,
): Enrollment {
  const files = enrollmentFiles(deps.stateDir);
  const record: StoredEnrollment = {
    tenant_id: response.tenant_id,
    appliance_id: response.appliance_id,
    evidence_key_fingerprint: response.evidence_key_fingerprint,
    settings: response.settings,
    enrolled_at: deps.clock.now().toISOString(),
  };
  writeFileAtomic(files.clientCert, response.client_certificate_pem, 0o644);
  writeFileAtomic(files.caCert, response.ca_certificate_pem, 0o644);
  // Written last: its presence is what says "enrolled".
  writeFileAtomic(files.record, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return {
    ...record,
    clientCertPem: response.client_certificate_pem,
    caCertPem: response.ca_certificate_pem,
  };
}
