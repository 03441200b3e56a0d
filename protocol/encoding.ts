import { createHash, hash, randomBytes, timingSafeEqual } from "node:crypto";
import { ProtocolError } from "./errors.ts";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

/**
 * Standard base64 (RFC 4648 §4) with padding, strictly: no whitespace, no URL alphabet, and
 * canonical (RFC 4648 §3.5: the unused low bits of the last character are zero). Without that
 * last rule one signature has several spellings, and a changed message would still verify.
 */
export function fromBase64(text: string, what: string): Uint8Array {
  if (!BASE64.test(text)) {
    throw new ProtocolError("invalid_encoding", `${what} is not standard padded base64`);
  }
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64") !== text) {
    throw new ProtocolError("invalid_encoding", `${what} is not canonical base64 (RFC 4648 §3.5)`);
  }
  return new Uint8Array(bytes);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Lower-case hex, the form every hash in the protocol uses. */
export function fromHex(text: string, what: string): Uint8Array {
  if (!HEX.test(text)) {
    throw new ProtocolError("invalid_encoding", `${what} is not lower-case hex`);
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function sha256(bytes: Uint8Array): Uint8Array {
  const out = hash("sha256", bytes, "buffer");
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Compares two strings (tokens, nonces, hashes) in time independent of where they differ.
 * Both sides are hashed first so that inputs of different lengths compare in constant time too.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  return timingSafeEqual(sha256(encoder.encode(a)), sha256(encoder.encode(b)));
}

/** A fresh 32-byte random value in unpadded base64url, the form of a poll nonce. */
export function randomNonce(): string {
  return randomBytes(32).toString("base64url");
}
