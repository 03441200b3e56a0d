import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateEd25519KeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicKeyFromRaw,
  publicKeyToPem,
  signBytes,
  verifyBytes,
} from "./ed25519.ts";
import { fromBase64 } from "./encoding.ts";
import { GENESIS_HEAD, sealBundle } from "./evidence-chain.ts";
import { createSigner, signingBytes } from "./signed-document.ts";

/**
 * The auditor's promise: every signature we make verifies with plain OpenSSL 3, and keys
 * OpenSSL makes work with protocol/. OpenSSL runs as a real child process, argv only.
 */
const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-openssl-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function opensslVerify(publicKeyPem: string, message: Uint8Array, signature: Uint8Array) {
  const pub = join(dir, "pub.pem");
  const msg = join(dir, "msg.bin");
  const sig = join(dir, "sig.bin");
  await Promise.all([
    writeFile(pub, publicKeyPem),
    writeFile(msg, message),
    writeFile(sig, signature),
  ]);
  const args = [
    "pkeyutl",
    "-verify",
    "-pubin",
    "-inkey",
    pub,
    "-rawin",
    "-in",
    msg,
    "-sigfile",
    sig,
  ];
  try {
    const { stdout } = await run("openssl", args);
    return stdout.includes("Signature Verified Successfully");
  } catch {
    return false; // openssl exits 1 on a failed verification
  }
}

describe("OpenSSL 3 cross-checks", () => {
  it("verifies with OpenSSL what protocol/ signed, and refuses a tampered message", async () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const message = new TextEncoder().encode('{"seq":1,"type":"evidence_bundle"}');
    const signature = signBytes(privateKey, message);
    const pem = publicKeyToPem(publicKey);
    expect(await opensslVerify(pem, message, signature)).toBe(true);
    const tampered = Uint8Array.from(message);
    tampered[3] = (tampered[3] as number) ^ 1;
    expect(await opensslVerify(pem, tampered, signature)).toBe(false);
  });

  it("verifies with protocol/ what OpenSSL signed with a key OpenSSL generated", async () => {
    const keyFile = join(dir, "openssl-key.pem");
    await run("openssl", ["genpkey", "-algorithm", "ed25519", "-out", keyFile]);
    const pubFile = join(dir, "openssl-pub.pem");
    await run("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", pubFile]);
    const msgFile = join(dir, "openssl-msg.bin");
    const message = new TextEncoder().encode("order 42: RB-BACKUP-001-failure");
    await writeFile(msgFile, message);
    const sigFile = join(dir, "openssl-sig.bin");
    await run("openssl", [
      "pkeyutl",
      "-sign",
      "-inkey",
      keyFile,
      "-rawin",
      "-in",
      msgFile,
      "-out",
      sigFile,
    ]);

    const signature = new Uint8Array(await readFile(sigFile));
    const publicKey = publicKeyFromPem(await readFile(pubFile, "utf8"));
    expect(verifyBytes(publicKey, message, signature)).toBe(true);
    // Same key read from OpenSSL's PKCS #8 PEM signs identically (deterministic Ed25519).
    const privateKey = privateKeyFromPem(await readFile(keyFile, "utf8"));
    expect(Buffer.from(signBytes(privateKey, message)).equals(Buffer.from(signature))).toBe(true);
    expect(verifyBytes(publicKey, new TextEncoder().encode("order 43"), signature)).toBe(false);
  });

  it("exchanges private keys with OpenSSL as PKCS #8 PEM", async () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const keyFile = join(dir, "ours.pem");
    await writeFile(keyFile, privateKeyToPem(privateKey));
    const { stdout } = await run("openssl", ["pkey", "-in", keyFile, "-pubout"]);
    expect(stdout).toBe(publicKeyToPem(publicKey));
  });

  it("lets an auditor verify an evidence bundle with OpenSSL from its canonical bytes", async () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const { bundle, head } = sealBundle(
      {
        tenant_id: "clinic-a",
        appliance_id: "clinic-a-01",
        recorded_at: "2026-11-25T12:00:00Z",
        event: { kind: "agent_lifecycle", event: "started", agent_version: "0.1.0" },
      },
      GENESIS_HEAD,
      createSigner(privateKey),
    );
    const bytes = signingBytes(bundle);
    const signature = fromBase64(bundle.sig.value, "signature");
    expect(await opensslVerify(publicKeyToPem(publicKey), bytes, signature)).toBe(true);
    // And the chain hash is plain SHA-256 of those same bytes.
    const file = join(dir, "bundle.jcs");
    await writeFile(file, bytes);
    const { stdout } = await run("openssl", ["dgst", "-sha256", "-r", file]);
    expect(stdout.split(" ")[0]).toBe(head.hash);
  });

  it("reads a raw 32-byte key the same way OpenSSL reads the PEM", async () => {
    const { publicKey } = generateEd25519KeyPair();
    const pemFile = join(dir, "raw-check.pem");
    await writeFile(pemFile, publicKeyToPem(publicKey));
    const { stdout } = await run("openssl", ["pkey", "-pubin", "-in", pemFile, "-outform", "DER"], {
      encoding: "buffer",
    });
    const raw = new Uint8Array((stdout as Buffer).subarray(-32));
    expect(publicKeyFromRaw(raw).equals(publicKey)).toBe(true);
  });
});
