import "reflect-metadata";
import { createHash, createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { ControlPlaneError } from "../errors.ts";

/**
 * X.509 for the control plane through @peculiar/x509 over WebCrypto (node:crypto cannot build
 * or sign certificates). Every key is ECDSA P-256: tenant CAs, the server CA, server and
 * appliance TLS keys.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING: webcrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

export async function createCertificateAuthority(
  commonName: string,
  days = 3650,
  now = new Date(),
): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    notBefore: new Date(now.getTime() - 5 * 60 * 1000),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A server certificate for the given DNS names and IP addresses, signed by `ca`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  hosts: { dns: readonly string[]; ip: readonly string[] },
  days = 825,
  now = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await issue(ca, {
    commonName: hosts.dns[0] ?? hosts.ip[0] ?? "control-plane",
    publicKey: keys.publicKey,
    usage: x509.ExtendedKeyUsage.serverAuth,
    days,
    now,
    altNames: [
      ...hosts.dns.map((value) => ({ type: "dns" as const, value })),
      ...hosts.ip.map((value) => ({ type: "ip" as const, value })),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * Signs an appliance's PKCS #10 request with its tenant CA after checking the request's own
 * signature (proof the appliance holds the key) and that the key is ECDSA P-256. The subject is
 * ours, never the requester's: CN=<appliance>.<tenant>.
 */
export async function signClientCsr(
  ca: CertificateAuthority,
  csrPem: string,
  subject: { tenantId: string; applianceId: string },
  days: number,
  now = new Date(),
): Promise<{ certPem: string; fingerprint: string }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    throw new ControlPlaneError("invalid_request", "the CSR does not parse", { cause });
  }
  const algorithm = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
  if (algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") {
    throw new ControlPlaneError("invalid_request", "the CSR key must be ECDSA P-256");
  }
  let publicKey: CryptoKey;
  try {
    if (!(await csr.verify()))
      throw new ControlPlaneError("invalid_request", "the CSR signature does not verify");
    publicKey = await csr.publicKey.export(EC, ["verify"]);
  } catch (cause) {
    if (cause instanceof ControlPlaneError) throw cause;
    throw new ControlPlaneError("invalid_request", "the CSR key or signature is invalid", {
      cause,
    });
  }
  const cert = await issue(ca, {
    commonName: `${subject.applianceId}.${subject.tenantId}`,
    publicKey,
    usage: x509.ExtendedKeyUsage.clientAuth,
    days,
    now,
    altNames: [],
  });
  return { certPem: cert.toString("pem"), fingerprint: certificateFingerprint(cert.rawData) };
}

/** Lower-case hex SHA-256 of the DER certificate: the binding between a TLS peer and an appliance. */
export function certificateFingerprint(der: ArrayBuffer | Uint8Array): string {
  return createHash("sha256").update(new Uint8Array(der)).digest("hex");
}

/**
 * Lower-case hex SHA-256 of the public key (SPKI DER) a PKCS #10 request carries, or null when
 * it does not parse: what an approval binds, since an agent that asks again signs a new request
 * for the same key.
 */
export function csrKeyFingerprint(csrPem: string | null): string | null {
  if (csrPem === null) return null;
  try {
    return certificateFingerprint(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData);
  } catch {
    return null;
  }
}

export function fingerprintOfPem(pem: string): string {
  return certificateFingerprint(new x509.X509Certificate(pem).rawData);
}

/**
 * True when `certDer` is signed by the CA in `caPem` and valid at `now`. Uses node:crypto's
 * native X509Certificate (synchronous, fast): this runs on the first request of every
 * appliance connection.
 */
export function isIssuedBy(certDer: Uint8Array, caPem: string, now = new Date()): boolean {
  try {
    const cert = new X509Certificate(certDer);
    const ca = new X509Certificate(caPem);
    const t = now.getTime();
    return (
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      t >= Date.parse(cert.validFrom) &&
      t <= Date.parse(cert.validTo)
    );
  } catch {
    return false;
  }
}

/** Checks that a CA certificate and key PEM belong together and are ECDSA P-256. */
export async function checkCertificateAuthority(ca: CertificateAuthority): Promise<string | null> {
  try {
    const cert = new x509.X509Certificate(ca.certPem);
    const key = createPrivateKey(ca.keyPem);
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      return "the CA key must be ECDSA P-256";
    }
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) return "the CA certificate lacks basicConstraints CA:TRUE";
    const probe = await webcrypto.subtle.sign(
      SIGNING,
      await importSigningKey(ca.keyPem),
      new Uint8Array([1]),
    );
    const publicKey = await cert.publicKey.export(EC, ["verify"]);
    const ok = await webcrypto.subtle.verify(SIGNING, publicKey, probe, new Uint8Array([1]));
    return ok ? null : "the CA key does not match the CA certificate";
  } catch {
    return "the CA certificate or key does not parse";
  }
}

async function issue(
  ca: CertificateAuthority,
  o: {
    commonName: string;
    publicKey: CryptoKey;
    usage: string;
    days: number;
    now: Date;
    altNames: { type: "dns" | "ip"; value: string }[];
  },
): Promise<x509.X509Certificate> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([o.usage], false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (o.altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(o.altNames));
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${o.commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(o.now.getTime() - 5 * 60 * 1000),
    notAfter: new Date(o.now.getTime() + o.days * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey: o.publicKey,
    signingKey: await importSigningKey(ca.keyPem),
    extensions,
  });
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, EC, false, ["sign"]);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const body =
    der
      .toString("base64")
      .match(/.{1,64}/g)
      ?.join("\n") ?? "";
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  return Buffer.from(bytes).toString("hex");
}

/** For tests and the CLI: an appliance-side key pair and CSR, as the agent makes them. */
export async function createClientCsr(
  commonName: string,
): Promise<{ csrPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: SIGNING,
  });
  return { csrPem: csr.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}
