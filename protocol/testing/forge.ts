import { toBase64 } from "../encoding.ts";
import type { Signature } from "../schemas/common.ts";
import { type Signer, signingBytes } from "../signed-document.ts";

/**
 * Tests only: a valid signature over a document its own schema refuses, which signDocument
 * never makes. It shows that a verifier still refuses such a document when a key holder (or a
 * bug elsewhere) signed it anyway.
 */
export function forgeSigned<T extends { sig: Signature }>(
  document: Omit<T, "sig">,
  signer: Signer,
): T {
  const value = toBase64(signer.sign(signingBytes(document)));
  return { ...document, sig: { alg: "Ed25519", key_id: signer.keyId, value } } as T;
}
