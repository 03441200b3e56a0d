import type { KeyObject } from "node:crypto";
import { rawPublicKey, verifyBytes } from "./ed25519.ts";
import { fromHex, sha256 } from "./encoding.ts";

/**
 * Witness cosignatures in the C2SP tlog-cosignature shape (cosignature/v1, Ed25519): the
 * appliance, having verified a checkpoint's consistency with the last one it saw, signs
 *
 *     cosignature/v1\n
 *     time <POSIX seconds>\n
 *     <checkpoint note body>
 *
 * where the note body is the C2SP tlog-checkpoint form of our checkpoint: origin line, tree
 * size, base64 root hash, each ending in a newline. The result is a signed-note signature line
 * `— <name> base64(key ID || u64 big-endian timestamp || signature)`, with key ID
 * SHA-256(name || "\n" || 0x04 || public key)[:4]. The header line separates these signatures
 * from the appliance's evidence signatures (canonical JSON, starting with "{"), so the evidence
 * key serves as the witness key: forking the log then needs the appliance's key.
 */
export const COSIGNATURE_HEADER = "cosignature/v1";
const ED25519_COSIGNATURE_TYPE = 0x04;

export interface CosignedCheckpoint {
  readonly tenant_id: string;
  readonly appliance_id: string;
  readonly tree_size: number;
  readonly root_hash: string;
}

/** The log's origin line: one log per appliance. */
export const checkpointOrigin = (cp: { tenant_id: string; appliance_id: string }) =>
  `msp-compliance/evidence/${cp.tenant_id}/${cp.appliance_id}`;

/** The cosigner's key name: the appliance itself. */
export const witnessName = (cp: { tenant_id: string; appliance_id: string }) =>
  `msp-compliance/appliance/${cp.tenant_id}/${cp.appliance_id}`;

/** C2SP tlog-checkpoint note body of a checkpoint: origin, size, base64 root (with newlines). */
export function checkpointNoteBody(cp: CosignedCheckpoint): string {
  const root = Buffer.from(fromHex(cp.root_hash, "root hash")).toString("base64");
  return `${checkpointOrigin(cp)}\n${cp.tree_size}\n${root}\n`;
}

// A key's raw bytes, kept per key object: exporting a key through OpenSSL's encoders costs far
// more than the hash, and a verifier checks one witness key's cosignatures over and over.
const rawKeys = new WeakMap<KeyObject, Uint8Array>();

/** C2SP signed-note key ID of an Ed25519 cosigner: SHA-256(name || "\n" || 0x04 || key)[:4]. */
export function cosignerKeyId(name: string, publicKey: KeyObject): Uint8Array {
  let raw = rawKeys.get(publicKey);
  if (!raw) {
    raw = rawPublicKey(publicKey);
    rawKeys.set(publicKey, raw);
  }
  const prefix = new TextEncoder().encode(`${name}\n`);
  const input = new Uint8Array(prefix.length + 1 + raw.length);
  input.set(prefix, 0);
  input[prefix.length] = ED25519_COSIGNATURE_TYPE;
  input.set(raw, prefix.length + 1);
  return sha256(input).subarray(0, 4);
}

function signedMessage(cp: CosignedCheckpoint, timestamp: number): Uint8Array {
  return new TextEncoder().encode(
    `${COSIGNATURE_HEADER}\ntime ${timestamp}\n${checkpointNoteBody(cp)}`,
  );
}

/** The cosignature line of `cp`, signed with the appliance's evidence key at `timestamp` (s). */
export function cosignCheckpoint(
  cp: CosignedCheckpoint,
  signer: { readonly publicKey: KeyObject; sign(message: Uint8Array): Uint8Array },
  timestamp: number,
): string {
  const name = witnessName(cp);
  const blob = new Uint8Array(4 + 8 + 64);
  blob.set(cosignerKeyId(name, signer.publicKey), 0);
  new DataView(blob.buffer).setBigUint64(4, BigInt(timestamp), false);
  blob.set(signer.sign(signedMessage(cp, timestamp)), 12);
  return `— ${name} ${Buffer.from(blob).toString("base64")}`;
}

export type CosignatureVerdict =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly detail: string };

/** Checks a cosignature line of `cp` against the witness's public key (RFC 8032 via node:crypto). */
export function verifyCosignature(
  cp: CosignedCheckpoint,
  line: string,
  publicKey: KeyObject,
): CosignatureVerdict {
  const name = witnessName(cp);
  const prefix = `— ${name} `;
  if (!line.startsWith(prefix)) return { ok: false, detail: `not a signature line by ${name}` };
  const encoded = line.slice(prefix.length);
  const blob = Buffer.from(encoded, "base64");
  if (blob.length !== 76 || blob.toString("base64") !== encoded) {
    return { ok: false, detail: "not a 76-byte Ed25519 timestamped signature in base64" };
  }
  if (Buffer.compare(blob.subarray(0, 4), cosignerKeyId(name, publicKey)) !== 0) {
    return { ok: false, detail: "key ID is not the appliance key's" };
  }
  const timestamp = blob.readBigUInt64BE(4);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER))
    return { ok: false, detail: "timestamp too large" };
  const seconds = Number(timestamp);
  if (!verifyBytes(publicKey, signedMessage(cp, seconds), blob.subarray(12))) {
    return { ok: false, detail: "signature does not verify with the appliance key" };
  }
  return { ok: true, timestamp: seconds };
}
