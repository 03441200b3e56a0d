import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * A throw-away PKI for tests and the bench: a CA, a server certificate for localhost/127.0.0.1,
 * and client certificates issued from the agent's real CSRs. ECDSA P-256 throughout.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface TestPki {
  readonly caPem: string;
  readonly serverKeyPem: string;
  readonly serverCertPem: string;
  /** Verifies the CSR's own signature, then issues a client certificate for its key. */
  issueClientCert(csrPem: string, commonName: string): Promise<string>;
}

async function keyPair() {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

type CryptoKeyPair = { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return `${x509.PemConverter.encode(der, "PRIVATE KEY").replace(/\r\n/g, "\n").trim()}\n`;
}

const pem = (cert: x509.X509Certificate) =>
  `${cert.toString("pem").replace(/\r\n/g, "\n").trim()}\n`;

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, "0");

export async function createTestPki(name = "Test"): Promise<TestPki> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) };
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name} CA`,
    ...validity,
    keys: caKeys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  const serverKeys = await keyPair();
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: "CN=localhost",
    issuer: ca.subject,
    ...validity,
    signingKey: caKeys.privateKey as never,
    publicKey: serverKeys.publicKey as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return {
    caPem: pem(ca),
    serverKeyPem: await privatePem(serverKeys.privateKey),
    serverCertPem: pem(server),
    async issueClientCert(csrPem, commonName) {
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      if (!(await csr.verify())) throw new Error("CSR signature does not verify");
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: `CN=${commonName}`,
        issuer: ca.subject,
        ...validity,
        signingKey: caKeys.privateKey as never,
        publicKey: csr.publicKey,
        signingAlgorithm: ALG,
        extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
      });
      return pem(cert);
    },
  };
}
