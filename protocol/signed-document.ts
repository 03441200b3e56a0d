import type { KeyObject } from "node:crypto";
import type { z } from "zod";
import { canonicalBytes } from "./canonical-json.ts";
import { keyId, publicKeyOf, signBytes, verifyBytes } from "./ed25519.ts";
import { fromBase64, toBase64 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";
import { tryParseMessage } from "./parse.ts";
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

/**
 * Signs a document only after it passes its own schema: the document with a placeholder `sig`
 * must parse, and the parsed value must have the same canonical bytes as what is signed (a
 * schema that would drop or rewrite a member makes the signature unverifiable later). So
 * nothing can be signed that a verifier would refuse: a model's 1.5 where the schema wants an
 * integer, a lone surrogate, an unknown member. Throws ProtocolError before any signature exists.
 */
export function signDocument<T extends { sig: Signature }>(
  schema: z.ZodType,
  document: Unsigned<T>,
  signer: Signer,
): T {
  return signWithBytes<T>(schema, document, signer).document;
}

/** Signs as signDocument and also hands back the signed bytes, for callers that hash them too. */
export function signWithBytes<T extends { sig: Signature }>(
  schema: z.ZodType,
  document: Unsigned<T>,
  signer: Signer,
): { document: T; bytes: Uint8Array } {
  const bytes = signableBytes(schema, document, signer.keyId);
  const sig: Signature = {
    alg: "Ed25519",
    key_id: signer.keyId,
    value: toBase64(signer.sign(bytes)),
  };
  return { document: { ...document, sig } as T, bytes };
}

/** A well-formed signature value (64 zero bytes) standing in for `sig` while the schema runs. */
const PLACEHOLDER_SIG = toBase64(new Uint8Array(64));

/** The canonical bytes to sign, once the document is known to be what its schema describes. */
function signableBytes(schema: z.ZodType, document: object, keyId: string): Uint8Array {
  const type = (document as { type?: unknown }).type;
  const what = typeof type === "string" ? type : "document";
  let bytes: Uint8Array;
  try {
    bytes = signingBytes(document);
  } catch (error) {
    throw new ProtocolError(
      "invalid_message",
      `refusing to sign this ${what}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const probe = { ...document, sig: { alg: "Ed25519", key_id: keyId, value: PLACEHOLDER_SIG } };
  const parsed = tryParseMessage(schema, probe);
  if (!parsed.ok) {
    throw new ProtocolError(
      "invalid_message",
      `refusing to sign this ${what}: it fails its schema:\n${parsed.problem}`,
    );
  }
  if (!equalBytes(signingBytes(parsed.value as object), bytes)) {
    throw new ProtocolError(
      "invalid_message",
      `refusing to sign this ${what}: its schema would drop or rewrite a member, so the signature could not be verified`,
    );
  }
  return bytes;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
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
