import { X509Certificate } from "node:crypto";
import {
  type BundleDraft,
  type ChainHead,
  type EnrollmentResponse,
  type EvidenceBundle,
  GENESIS_HEAD,
  type Signer,
  sealBundle,
} from "#protocol";
import {
  type Harness,
  registerSite,
  type SimulatedAppliance,
  simulatedAppliance,
} from "./harness.ts";

/**
 * Calls the app in-process as an appliance holding `certPem`: the peer certificate is handed
 * to the app exactly as @hono/node-server's bindings do (env.incoming.socket), no backdoor.
 */
export function asAppliance(h: Harness, certPem: string | undefined) {
  const cert = certPem ? new X509Certificate(certPem) : undefined;
  const env = { incoming: { socket: { getPeerX509Certificate: () => cert } } };
  return async (path: string, body: unknown, init: { raw?: string; contentType?: string } = {}) => {
    const res = await h.app.request(
      path,
      {
        method: "POST",
        headers: { "content-type": init.contentType ?? "application/json" },
        body: init.raw ?? JSON.stringify(body),
      },
      env,
    );
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return {
      status: res.status,
      json: json as Record<string, unknown>,
      contentType: res.headers.get("content-type") ?? "",
    };
  };
}

export async function enroll(
  h: Harness,
  appliance: SimulatedAppliance,
): Promise<EnrollmentResponse> {
  const res = await h.app.request("/v1/appliance/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(appliance.request),
  });
  if (res.status !== 200) throw new Error(`enroll: ${res.status} ${await res.text()}`);
  return (await res.json()) as EnrollmentResponse;
}

/**
 * Seals `count` alert bundles after `from`, as the agent's journal does; `recordedAt(i)` gives
 * bundle i's recorded_at (default: now). With `controlPlaneKeyId`, a chain from genesis opens with
 * the appliance's enrollment statement, as a real agent's does (the verifier requires it).
 */
export function chain(
  signer: Signer,
  tenantId: string,
  applianceId: string,
  count: number,
  from: ChainHead = GENESIS_HEAD,
  recordedAt: (i: number) => string = () => new Date().toISOString(),
  controlPlaneKeyId?: string,
): { bundles: EvidenceBundle[]; head: ChainHead } {
  const bundles: EvidenceBundle[] = [];
  let head = from;
  for (let i = 0; i < count; i++) {
    const draft: BundleDraft = {
      tenant_id: tenantId,
      appliance_id: applianceId,
      recorded_at: recordedAt(i),
      event:
        head.seq === 0 && controlPlaneKeyId !== undefined
          ? {
              kind: "enrollment_statement",
              key_id: signer.keyId,
              control_plane_key_id: controlPlaneKeyId,
              agent_version: "0.1.0",
            }
          : {
              kind: "alert",
              code: "test_event",
              severity: "low",
              message: `event ${head.seq + 1}`,
            },
    };
    const sealed = sealBundle(draft, head, signer);
    bundles.push(sealed.bundle);
    head = sealed.head;
  }
  return { bundles, head };
}

export function upload(tenantId: string, applianceId: string, bundles: readonly unknown[]) {
  return { v: 1, type: "evidence_upload", tenant_id: tenantId, appliance_id: applianceId, bundles };
}

/** A site with one enrolled appliance: its evidence key and a caller holding its certificate. */
export async function enrolledAppliance(h: Harness, tenantId: string, applianceId: string) {
  const probe = await simulatedAppliance();
  const { token } = await registerSite(h, tenantId, applianceId, probe.mac);
  const appliance = await simulatedAppliance(token, probe.mac);
  const enrolled = await enroll(h, appliance);
  if (enrolled.status !== "enrolled") throw new Error("not enrolled");
  return {
    call: asAppliance(h, enrolled.client_certificate_pem),
    signer: appliance.evidenceSigner,
  };
}
