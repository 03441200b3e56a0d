import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ControlPlaneError } from "../errors.ts";

/**
 * Seals secrets the database must hold (tenant CA private keys) with AES-256-GCM under a key
 * kept in the data directory (0600), so a copy of the database alone does not give away a CA.
 * Format: "v1.<iv b64>.<tag b64>.<ciphertext b64>".
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function createSecretBox(key: Uint8Array): SecretBox {
  if (key.byteLength !== 32)
    throw new ControlPlaneError("invalid_key", "the secret-box key must be 32 bytes");
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return ["v1", iv, cipher.getAuthTag(), body]
        .map((p) => (typeof p === "string" ? p : p.toString("base64")))
        .join(".");
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split(".");
      if (version !== "v1" || !iv || !tag || body === undefined)
        throw new ControlPlaneError("invalid_key", "not a sealed secret");
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([
        decipher.update(Buffer.from(body, "base64")),
        decipher.final(),
      ]).toString("utf8");
    },
  };
}
