import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  createSigner,
  keyId,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyToBase64,
  type Signer,
} from "#protocol";
import { writeFileAtomic } from "./atomic-file.ts";
import { AgentError } from "./errors.ts";

/**
 * The appliance's own keys, made on first start and never sent anywhere: the Ed25519 evidence
 * key (signs every bundle; its key id is the fingerprint an operator compares at enrollment)
 * and the ECDSA P-256 mTLS client key (its CSR goes to the control plane). Files are mode 0600.
 */
export interface Identity {
  readonly signer: Signer;
  readonly evidencePublicKey: string;
  readonly fingerprint: string;
  readonly tlsKeyPem: string;
  /** True when this start generated the evidence key (recorded as evidence once enrolled). */
  readonly generated: boolean;
}

export function loadOrCreateIdentity(paths: {
  evidenceKeyPath: string;
  tlsKeyPath: string;
}): Identity {
  let generated = false;
  // The key folders may not exist yet on first start; only this process may enter them.
  for (const path of [paths.evidenceKeyPath, paths.tlsKeyPath]) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }
  if (!existsSync(paths.evidenceKeyPath)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileAtomic(paths.evidenceKeyPath, privateKeyToPem(privateKey), 0o600);
    generated = true;
  }
  if (!existsSync(paths.tlsKeyPath)) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileAtomic(paths.tlsKeyPath, exportPkcs8(privateKey), 0o600);
  }
  let evidenceKey: KeyObject;
  try {
    evidenceKey = privateKeyFromPem(readFileSync(paths.evidenceKeyPath, "utf8"));
  } catch (cause) {
    throw new AgentError("invalid_key", `${paths.evidenceKeyPath} is not an Ed25519 PKCS #8 key`, {
      cause,
    });
  }
  const tlsKeyPem = readFileSync(paths.tlsKeyPath, "utf8");
  try {
    const tlsKey = createPrivateKey(tlsKeyPem);
    if (
      tlsKey.asymmetricKeyType !== "ec" ||
      tlsKey.asymmetricKeyDetails?.namedCurve !== "prime256v1"
    ) {
      throw new Error(`expected an EC P-256 key, got ${tlsKey.asymmetricKeyType}`);
    }
  } catch (cause) {
    throw new AgentError("invalid_key", `${paths.tlsKeyPath} is not an ECDSA P-256 key`, { cause });
  }
  const signer = createSigner(evidenceKey);
  return {
    signer,
    evidencePublicKey: publicKeyToBase64(signer.publicKey),
    fingerprint: keyId(signer.publicKey),
    tlsKeyPem,
    generated,
  };
}

function exportPkcs8(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}
