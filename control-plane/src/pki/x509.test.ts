import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox } from "./secret-box.ts";
import {
  checkCertificateAuthority,
  createCertificateAuthority,
  createClientCsr,
  fingerprintOfPem,
  isIssuedBy,
  issueServerCertificate,
  signClientCsr,
} from "./x509.ts";

describe("pki", () => {
  it("issues a client certificate from a CSR that node:crypto verifies against the CA", async () => {
    const ca = await createCertificateAuthority("clinic-a CA");
    expect(await checkCertificateAuthority(ca)).toBeNull();
    const { csrPem } = await createClientCsr("whatever-the-appliance-asks");
    const issued = await signClientCsr(
      ca,
      csrPem,
      { tenantId: "clinic-a", applianceId: "a-01" },
      30,
    );
    const cert = new X509Certificate(issued.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.subject).toBe("CN=a-01.clinic-a");
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.2");
    expect(fingerprintOfPem(issued.certPem)).toBe(issued.fingerprint);
    expect(issued.fingerprint).toBe(cert.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(isIssuedBy(new Uint8Array(cert.raw), ca.certPem)).toBe(true);
    const other = await createCertificateAuthority("other CA");
    expect(isIssuedBy(new Uint8Array(cert.raw), other.certPem)).toBe(false);
  });

  it("refuses a tampered CSR and a mismatched CA key", async () => {
    const ca = await createCertificateAuthority("clinic-a CA");
    const { csrPem } = await createClientCsr("x");
    const lines = csrPem.split("\n");
    const mid = Math.floor(lines.length / 2);
    const line = lines[mid] ?? "";
    lines[mid] = (line[0] === "A" ? "B" : "A") + line.slice(1);
    await expect(
      signClientCsr(ca, lines.join("\n"), { tenantId: "t", applianceId: "a" }, 1),
    ).rejects.toMatchObject({ name: "ControlPlaneError", code: "invalid_request" });
    const other = await createCertificateAuthority("other");
    expect(await checkCertificateAuthority({ certPem: ca.certPem, keyPem: other.keyPem })).toMatch(
      /does not match/,
    );
  });

  it("issues a server certificate for localhost and 127.0.0.1", async () => {
    const ca = await createCertificateAuthority("server CA");
    const server = await issueServerCertificate(ca, { dns: ["localhost"], ip: ["127.0.0.1"] });
    const cert = new X509Certificate(server.certPem);
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
  });

  it("seals and opens secrets, refusing tampering", () => {
    const box = createSecretBox(new Uint8Array(32).fill(7));
    const sealed = box.seal("secret key");
    expect(sealed).not.toContain("secret");
    expect(box.open(sealed)).toBe("secret key");
    const parts = sealed.split(".");
    parts[3] = Buffer.from("x").toString("base64");
    expect(() => box.open(parts.join("."))).toThrow();
  });
});
