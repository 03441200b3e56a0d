/**
 * Simulated appliances for the control-plane benches (bench/control-plane, bench/scale): real
 * enrolled appliances in a Store, each with its own client certificate and kept-alive mTLS
 * connection, and the requests they send.
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:https";
import {
  createSigner,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  keyId,
  publicKeyToBase64,
  randomNonce,
} from "#protocol";
import {
  createCertificateAuthority,
  createClientCsr,
  issueServerCertificate,
  signClientCsr,
} from "../../control-plane/src/pki/index.ts";
import type { Store } from "../../control-plane/src/store/index.ts";

export const TENANT = "bench";

export interface Sim {
  id: string;
  agent: Agent;
}

export const orderKey = generateEd25519KeyPair();
export const secretKey = randomBytes(32);
export const serverCa = await createCertificateAuthority("bench server CA");
export const serverTls = await issueServerCertificate(serverCa, {
  dns: ["localhost"],
  ip: ["127.0.0.1"],
});
export const tenantCa = await createCertificateAuthority("bench tenant CA");
// One appliance TLS key for all simulated appliances (each still gets its own certificate and
// so its own fingerprint binding); key generation is not what is measured.
export const clientKey = await createClientCsr("bench");
export const evidenceSigner = createSigner(generateEd25519KeyPair().privateKey);
export const settings = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 };

export async function populate(store: Store, count: number, offset: number): Promise<Sim[]> {
  const sims: Sim[] = [];
  const at = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = `a-${offset + i}`;
    const mac = `02:${[
      (offset + i) >> 24,
      ((offset + i) >> 16) & 255,
      ((offset + i) >> 8) & 255,
      (offset + i) & 255,
      1,
    ]
      .map((b) => (b & 255).toString(16).padStart(2, "0"))
      .join(":")}`;
    await store.registerAppliance({
      tenantId: TENANT,
      applianceId: id,
      macs: [mac],
      settings,
      tokenHash: null,
      tokenExpiresAt: null,
      createdAt: at,
    });
    const cert = await signClientCsr(
      tenantCa,
      clientKey.csrPem,
      { tenantId: TENANT, applianceId: id },
      30,
    );
    await store.setPending(TENANT, id, {
      evidencePublicKey: publicKeyToBase64(evidenceSigner.publicKey),
      evidenceKeyFingerprint: keyId(evidenceSigner.publicKey),
      csrPem: clientKey.csrPem,
      hostname: "bench",
      agentVersion: "bench",
    });
    await store.approve(TENANT, id, keyId(evidenceSigner.publicKey));
    await store.activate(
      TENANT,
      id,
      {
        evidencePublicKey: publicKeyToBase64(evidenceSigner.publicKey),
        evidenceKeyFingerprint: keyId(evidenceSigner.publicKey),
        csrPem: clientKey.csrPem,
        hostname: "bench",
        agentVersion: "bench",
        certPem: cert.certPem,
        certFingerprint: cert.fingerprint,
        at,
      },
      false,
    );
    sims.push({
      id,
      agent: new Agent({
        keepAlive: true,
        maxSockets: 1,
        ca: serverCa.certPem,
        cert: cert.certPem,
        key: clientKey.keyPem,
      }),
    });
  }
  return sims;
}

export function post(
  url: string,
  agent: Agent,
  body: string,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export const pollOf = (id: string) =>
  JSON.stringify({
    v: 1,
    type: "poll_request",
    tenant_id: TENANT,
    appliance_id: id,
    nonce: randomNonce(),
    last_order_seq: 0,
    evidence_head: { seq: 0, hash: GENESIS_HEAD.hash },
    agent_version: "bench",
    sent_at: new Date().toISOString(),
  });
