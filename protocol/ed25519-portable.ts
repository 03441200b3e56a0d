import nacl from "tweetnacl";
import { isSmallOrderEncoding } from "./ed25519-small-order.ts";

/**
 * Ed25519 with tweetnacl, for places where node:crypto is absent (an in-browser verifier).
 * Node code uses `ed25519.ts`. tweetnacl signs the same bytes (Ed25519 is deterministic) but
 * its verify accepts a non-canonical signature whose S is S + L; RFC 8032 §5.1.7 step 1
 * requires rejecting S >= L, so `portableVerify` checks that before calling it. It also accepts
 * a small-order public key or R (an identity key "verifies" every message with R = identity and
 * S = 0), so both are refused first (ed25519-small-order.ts).
 */

// L = 2^252 + 27742317777372353535851937790883648493, little-endian (RFC 8032 §5.1).
const GROUP_ORDER = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/** True when the scalar S (the second half of a signature) is below the group order L. */
export function hasCanonicalScalar(signature: Uint8Array): boolean {
  if (signature.byteLength !== 64) return false;
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i] as number;
    const l = GROUP_ORDER[i] as number;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

export interface PortableKeyPair {
  readonly publicKey: Uint8Array;
  /** tweetnacl's 64-byte form: the 32-byte seed followed by the public key. */
  readonly secretKey: Uint8Array;
}

/** RFC 8032 §5.1.5: derives the key pair from a 32-byte seed. */
export function portableKeyPair(seed: Uint8Array): PortableKeyPair {
  return nacl.sign.keyPair.fromSeed(seed);
}

export function portableSign(keyPair: PortableKeyPair, message: Uint8Array): Uint8Array {
  return nacl.sign.detached(message, keyPair.secretKey);
}

export function portableVerify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.byteLength !== 32 || !hasCanonicalScalar(signature)) return false;
  if (isSmallOrderEncoding(publicKey) || isSmallOrderEncoding(signature, 0)) return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
}
