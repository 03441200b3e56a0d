import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { publicKeyFromBase64, type VerificationKey, verificationKey } from "#protocol";
import type { AgentDeps } from "./deps.ts";
import { type Enrollment, enroll, readEnrollment } from "./enrollment.ts";
import { type Identity, loadOrCreateIdentity } from "./identity.ts";

export interface Started {
  readonly identity: Identity;
  readonly pinnedKey: VerificationKey;
  readonly enrollment: Enrollment;
  /** True when this start enrolled (the chain then begins with key_generated, enrolled). */
  readonly freshlyEnrolled: boolean;
}

/**
 * Everything before the first cycle: the state dir (0700), the appliance's keys (made on first
 * start), and the enrollment, read back from the state dir or obtained from the control plane
 * (retried until it succeeds or `stop` aborts, then null).
 */
export async function startUp(
  deps: AgentDeps,
  stop: AbortSignal,
  onEnrolling: (fingerprint: string) => void,
): Promise<Started | null> {
  const { config, log } = deps;
  mkdirSync(config.state_dir, { recursive: true, mode: 0o700 });
  const identity = loadOrCreateIdentity({
    evidenceKeyPath: config.evidence_key_path,
    tlsKeyPath: config.tls_key_path,
  });
  log.log("info", "agent starting", {
    version: deps.agentVersion,
    fingerprint: identity.fingerprint,
  });
  const pinnedKey = verificationKey(publicKeyFromBase64(config.order_signing_public_key));
  const stored = readEnrollment(config.state_dir, identity.fingerprint);
  if (stored !== null) return { identity, pinnedKey, enrollment: stored, freshlyEnrolled: false };

  onEnrolling(identity.fingerprint);
  // The key id in the form an auditor computes with OpenSSL (docs/auditor.md): the operator
  // compares it before approving, and the clinic keeps it as its own record of the pin.
  const say = deps.console ?? (() => {});
  say(
    `evidence key id ${identity.fingerprint} (SHA-256 of the raw Ed25519 public key): enrolling; compare it with the operator and keep it for your auditor`,
  );
  // The appliance's unit hands over the token's folder as systemd credentials: no file there
  // means the installer skipped the token, and enrollment waits for an operator's approval.
  const token =
    config.enrollment_token_path && existsSync(config.enrollment_token_path)
      ? readFileSync(config.enrollment_token_path, "utf8").trim()
      : undefined;
  const enrollment = await enroll(
    {
      stateDir: config.state_dir,
      identity,
      pinnedKey,
      pinnedKeyBase64: config.order_signing_public_key,
      ...(token ? { enrollmentToken: token } : {}),
      agentVersion: deps.agentVersion,
      host: deps.host,
      transport: deps.transport(),
      clock: deps.clock,
      log,
      maxBackoffMs: config.max_backoff_s * 1000,
      ...(deps.random ? { random: deps.random } : {}),
    },
    stop,
  );
  if (enrollment === null) return null;
  log.log("info", "enrolled", {
    tenant_id: enrollment.tenant_id,
    appliance_id: enrollment.appliance_id,
  });
  say(
    `enrolled as appliance ${enrollment.appliance_id} of site ${enrollment.tenant_id}; evidence key id ${identity.fingerprint}`,
  );
  return { identity, pinnedKey, enrollment, freshlyEnrolled: true };
}
