import { createPrivateKey, createPublicKey, sign } from "node:crypto";

/** DER: a tag, its definite length, its content (X.690 8.1). */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
  return Buffer.concat([Buffer.of(tag), length, content]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
/** id-at-commonName (2.5.4.3). */
const COMMON_NAME = Buffer.from("0603550403", "hex");
/** ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758 3.2). */
const ECDSA_WITH_SHA256 = der(SEQUENCE, Buffer.from("06082a8648ce3d040302", "hex"));

/**
 * PKCS #10 request for the mTLS client key (RFC 2986), signed with that key (ECDSA P-256,
 * SHA-256): version 0, subject CN=<commonName> (UTF8String), the key's SubjectPublicKeyInfo as
 * node:crypto exports it, no attributes. Written with node:crypto and a few lines of DER rather
 * than an X.509 library, which would weigh on the running agent's memory for one request made
 * once at enrollment.
 */
export function createCsrPem(tlsKeyPem: string, commonName: string): string {
  const privateKey = createPrivateKey(tlsKeyPem);
  if (
    privateKey.asymmetricKeyType !== "ec" ||
    privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1"
  )
    throw new Error("the mTLS client key must be ECDSA P-256");
  const subject = der(
    SEQUENCE,
    der(
      SET,
      der(SEQUENCE, Buffer.concat([COMMON_NAME, der(0x0c, Buffer.from(commonName, "utf8"))])),
    ),
  );
  const info = der(
    SEQUENCE,
    Buffer.concat([
      Buffer.from("020100", "hex"), // version v1 (0)
      subject,
      createPublicKey(privateKey).export({ format: "der", type: "spki" }),
      Buffer.from("a000", "hex"), // attributes: [0] IMPLICIT SET OF, empty
    ]),
  );
  const signature = sign("sha256", info, { key: privateKey, dsaEncoding: "der" });
  const request = der(
    SEQUENCE,
    Buffer.concat([info, ECDSA_WITH_SHA256, der(0x03, Buffer.concat([Buffer.of(0), signature]))]),
  );
  const lines = request.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`;
}
