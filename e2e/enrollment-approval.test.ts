import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSigner,
  ENROLLMENT_REQUEST_VERSION,
  EnrollmentRequest,
  generateEd25519KeyPair,
  keyId,
  privateKeyToPem,
  publicKeyToBase64,
  randomNonce,
  signDocument,
} from "#protocol";
import {
  type Child,
  eventually,
  httpsJson,
  machineMacs,
  startAgentChild,
} from "../scripts/child-processes.ts";
import { type LabPair, startLabPair, writeLabAgent } from "../scripts/lab-pair.ts";

/**
 * Approval-only enrollment with the real agent as a child process. The appliance's public
 * evidence key is known to an attacker before the appliance first asks (it is shown on the
 * console and signed into every bundle); the attacker races to claim the site with it and a TLS
 * key of its own. The control plane must refuse that claim for want of a signature by the
 * evidence private key, so the claim the operator approves by fingerprint is the box's own.
 */
const root = resolve(import.meta.dirname, "..");
const TENANT = "e2e-pop";
const BOX = "e2e-pop-02";

let dir: string;
let pair: LabPair | undefined;
let box: Child | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-e2e-pop-"));
  pair = await startLabPair({ dir, tenantId: TENANT, applianceId: "e2e-pop-01", pollIntervalS: 1 });
  await pair.enrolled();
}, 90_000);

afterAll(async () => {
  await box?.stop();
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A P-256 CSR made with OpenSSL: the attacker's own TLS key. */
function attackerCsr(): string {
  const key = join(dir, "attacker.key");
  const csr = join(dir, "attacker.csr");
  execFileSync("openssl", [
    ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
    ...["-subj", "/CN=appliance", "-keyout", key, "-out", csr],
  ]);
  return execFileSync("openssl", ["req", "-in", csr]).toString("utf8");
}

describe("approval-only enrollment against a claim made with the public key alone", () => {
  it("refuses the attacker's claim; the real agent's claim is approved by its fingerprint and it enrolls", async () => {
    const p = pair as LabPair;
    const site = await p.admin("/sites", {
      tenant_id: TENANT,
      appliance_id: BOX,
      mac_addresses: machineMacs(),
      approval_only: true,
    });
    expect(site.status).toBe(201);
    const agentDir = join(dir, "box");
    const { configPath, labStateFile, agentConfig } = await writeLabAgent({
      agentDir,
      baseUrl: p.baseUrl,
      caPath: join(p.controlPlaneDir, "tls", "ca.pem"),
      orderSigningPublicKey: String(p.agentConfig.order_signing_public_key),
      pollIntervalS: 1,
    });
    // The box's evidence key exists before it first asks, and its public half has leaked.
    const evidence = generateEd25519KeyPair();
    await mkdir(dirname(agentConfig.evidence_key_path), { recursive: true, mode: 0o700 });
    await writeFile(agentConfig.evidence_key_path, privateKeyToPem(evidence.privateKey), {
      mode: 0o600,
    });
    const fingerprint = keyId(evidence.publicKey);

    // The attacker asks first: the box's MACs, public key and fingerprint, its own CSR, signed
    // by a key of its own (it has no other), and the same claim in the old unsigned shape.
    const claim = {
      type: "enrollment_request" as const,
      mac_addresses: machineMacs().slice(0, 16),
      hostname: "clinic-box",
      agent_version: "0.1.0",
      evidence_public_key: publicKeyToBase64(evidence.publicKey),
      evidence_key_fingerprint: fingerprint,
      tls_csr_pem: attackerCsr(),
    };
    const enroll = (body: unknown) =>
      httpsJson(`${p.baseUrl}/v1/appliance/enroll`, { caPem: p.caPem, body });
    const signedByOther = signDocument<EnrollmentRequest>(
      EnrollmentRequest,
      {
        ...claim,
        v: ENROLLMENT_REQUEST_VERSION,
        nonce: randomNonce(),
        requested_at: new Date().toISOString(),
      },
      createSigner(generateEd25519KeyPair().privateKey),
    );
    const forged = await enroll(signedByOther);
    expect(forged).toMatchObject({ status: 400, body: { code: "invalid_request" } });
    expect((forged.body as { detail: string }).detail).toMatch(/evidence_public_key/);
    const unsigned = await enroll({ ...claim, v: 1 });
    expect(unsigned.status).toBe(400);
    expect((unsigned.body as { detail: string }).detail).toMatch(/update the agent/);
    const appliancePath = `/tenants/${TENANT}/appliances/${BOX}`;
    expect((await p.admin(appliancePath)).body).toMatchObject({ status: "registered" });

    // The real agent asks; the operator compares its fingerprint and approves; it enrolls.
    box = startAgentChild(
      ["agent/src/main.ts", "--config", configPath, "--lab", "--lab-state", labStateFile],
      root,
    );
    await eventually("the box's claim to be pending", async () => {
      const body = (await p.admin(appliancePath)).body as Record<string, unknown>;
      return body.status === "pending" && body.evidence_key_fingerprint === fingerprint
        ? body
        : undefined;
    });
    const approved = await p.admin(`${appliancePath}/approve`, {
      evidence_key_fingerprint: fingerprint,
    });
    expect(approved.status).toBe(200);
    await eventually("the box to enroll", async () => {
      const body = (await p.admin(appliancePath)).body as { status?: string };
      return body.status === "active" ? body : undefined;
    });
    // The control plane marks it active as it answers; the agent then writes its record.
    const record = join(agentConfig.state_dir, "enrollment.json");
    const stored = await eventually("the box to store its enrollment", async () =>
      existsSync(record)
        ? (JSON.parse(await readFile(record, "utf8")) as {
            appliance_id: string;
            evidence_key_fingerprint: string;
          })
        : undefined,
    );
    expect(stored).toMatchObject({ appliance_id: BOX, evidence_key_fingerprint: fingerprint });
  }, 120_000);
});
