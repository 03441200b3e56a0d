import type { KeyObject } from "node:crypto";
import { canonicalBytes } from "./canonical-json.ts";
import { keyId, publicKeyOf, signBytes, verifyBytes } from "./ed25519.ts";
import { fromBase64, toBase64 } from "./encoding.ts";
import type { Signature } from "./schemas/common.ts";

/**
 * Every signed message carries its signature in a top-level `sig` member. The signed bytes
 * are the RFC 8785 canonical JSON of the message without `sig`, so a verifier needs nothing
 * but the message, the public key and any JCS implementation (docs/protocol.md shows it with
 * plain OpenSSL). Each message's `type` literal is inside the signed bytes, so a signature on
 * one kind of message can never be passed off as another.
 */
export interface Signer {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(message: Uint8Array): Uint8Array;
}

export interface VerificationKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

export function createSigner(privateKey: KeyObject): Signer {
  const publicKey = publicKeyOf(privateKey);
  return {
    keyId: keyId(publicKey),
    publicKey,
    sign: (message) => signBytes(privateKey, message),
  };
}

export function verificationKey(publicKey: KeyObject): VerificationKey {
  return { keyId: keyId(publicKey), publicKey };
}

type Unsigned<T> = Omit<T, "sig">;

/** The exact bytes a signature covers: the canonical JSON of the document minus `sig`. */
export function signingBytes(document: object): Uint8Array {
  const { sig: _sig, ...unsigned } = document as { sig?: unknown };
  return canonicalBytes(unsigned);
}

export function signDocument<T extends { sig: Signature }>(
  document: Unsigned<T>,
  signer: Signer,
): T {
  return signWithBytes(document, signer, signingBytes(document)).document;
}

/** Signs and also hands back the signed bytes, for callers that hash them too (the chain). */
export function signWithBytes<T extends { sig: Signature }>(
  document: Unsigned<T>,
  signer: Signer,
  bytes: Uint8Array,
): { document: T; bytes: Uint8Array } {
  const sig: Signature = {
    alg: "Ed25519",
    key_id: signer.keyId,
    value: toBase64(signer.sign(bytes)),
  };
  return { document: { ...document, sig } as T, bytes };
}

/** True only when `sig` names this key and verifies over the document's canonical bytes. */
export function verifyDocument(
  document: { sig: Signature },
  key: VerificationKey,
  bytes: Uint8Array = signingBytes(document),
): boolean {
  if (document.sig.key_id !== key.keyId) return false;
  let signature: Uint8Array;
  try {
    signature = fromBase64(document.sig.value, "signature");
  } catch {
    return false;
  }
  return verifyBytes(key.publicKey, bytes, signature);
}
