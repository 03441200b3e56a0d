import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { isSmallOrderEncoding } from "./ed25519-small-order.ts";
import { fromBase64, sha256Hex, toBase64 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Ed25519 (RFC 8032) through node:crypto, the implementation every Node process of ours uses:
 * native, and strict about signature encoding (it rejects S >= L, so no malleable twin of a
 * valid signature verifies). `ed25519-portable.ts` is the fallback for places without it.
 * Small-order public keys are refused when a key is loaded, and a small-order R before any
 * verification (ed25519-small-order.ts), whatever the library underneath would decide.
 *
 * Key exchange formats (docs/protocol.md):
 * - public keys: PEM "PUBLIC KEY" (SubjectPublicKeyInfo, RFC 8410) or the raw 32 bytes in
 *   standard base64; private keys: PEM "PRIVATE KEY" (PKCS #8, RFC 8410).
 * - a key id is the lower-case hex SHA-256 of the raw 32-byte public key.
 */
export const SIGNATURE_LENGTH = 64;
export const PUBLIC_KEY_LENGTH = 32;

// RFC 8410 §4 and §7: the fixed DER prefixes in front of the raw 32-byte key.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface Ed25519KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  return generateKeyPairSync("ed25519");
}

/** RFC 8032 §5.1.5: a private key is a 32-byte seed. Used for test vectors and key import. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) {
    throw new ProtocolError("invalid_key", `an Ed25519 seed is 32 bytes, got ${seed.byteLength}`);
  }
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== PUBLIC_KEY_LENGTH) {
    throw new ProtocolError(
      "invalid_key",
      `an Ed25519 public key is ${PUBLIC_KEY_LENGTH} bytes, got ${raw.byteLength}`,
    );
  }
  return refuseSmallOrder(
    createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" }),
  );
}

export function publicKeyFromBase64(text: string): KeyObject {
  return publicKeyFromRaw(fromBase64(text, "Ed25519 public key"));
}

export function publicKeyFromPem(pem: string): KeyObject {
  return refuseSmallOrder(
    requireEd25519(() => createPublicKey({ key: pem, format: "pem" }), "public key PEM"),
  );
}

function refuseSmallOrder(key: KeyObject): KeyObject {
  if (isSmallOrderEncoding(rawPublicKey(key))) {
    throw new ProtocolError("invalid_key", "the Ed25519 public key is a small-order point");
  }
  return key;
}

export function privateKeyFromPem(pem: string): KeyObject {
  return requireEd25519(() => createPrivateKey({ key: pem, format: "pem" }), "private key PEM");
}

export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const der = publicKey.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

export function publicKeyToBase64(publicKey: KeyObject): string {
  return toBase64(rawPublicKey(publicKey));
}

export function publicKeyToPem(publicKey: KeyObject): string {
  return publicKey.export({ format: "pem", type: "spki" }).toString();
}

export function privateKeyToPem(privateKey: KeyObject): string {
  return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

/** The key id: hex SHA-256 of the raw public key. Shown on the appliance console at enrollment. */
export function keyId(publicKey: KeyObject): string {
  return sha256Hex(rawPublicKey(publicKey));
}

export function signBytes(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

/** False for any malformed or non-verifying signature; never throws on attacker input. */
export function verifyBytes(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array) {
  if (signature.byteLength !== SIGNATURE_LENGTH || isSmallOrderEncoding(signature, 0)) return false;
  try {
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

function requireEd25519(load: () => KeyObject, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = load();
  } catch (cause) {
    throw new ProtocolError("invalid_key", `${what} could not be read`, { cause });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ProtocolError(
      "invalid_key",
      `${what} holds a ${key.asymmetricKeyType ?? "symmetric"} key, expected ed25519`,
    );
  }
  return key;
}
