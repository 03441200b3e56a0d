import "reflect-metadata";
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * PKCS #10 request for the mTLS client key (RFC 2986), signed with that key (ECDSA P-256,
 * SHA-256). Loaded only when enrolling (dynamic import), so @peculiar/x509 and its
 * reflect-metadata never weigh on the running agent's memory.
 */
export async function createCsrPem(tlsKeyPem: string, commonName: string): Promise<string> {
  const privateKey = createPrivateKey(tlsKeyPem);
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const subtle = webcrypto.subtle;
  const keys = {
    privateKey: await subtle.importKey(
      "pkcs8",
      privateKey.export({ format: "der", type: "pkcs8" }),
      algorithm,
      false,
      ["sign"],
    ),
    publicKey: await subtle.importKey(
      "spki",
      createPublicKey(privateKey).export({ format: "der", type: "spki" }),
      algorithm,
      true,
      ["verify"],
    ),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    },
    webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
  );
  return `${csr.toString("pem").replace(/\r\n/g, "\n").trim()}\n`;
}
