import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { createCsrPem } from "./csr.ts";

const p256 = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();

describe("createCsrPem", () => {
  it("writes a PKCS #10 request that an X.509 library parses and verifies, for the key given", async () => {
    const keyPem = p256();
    const csr = new x509.Pkcs10CertificateRequest(createCsrPem(keyPem, "clinic-a-01"));
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe("CN=clinic-a-01");
    expect(csr.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    const { createPublicKey } = await import("node:crypto");
    expect(
      Buffer.from(csr.publicKey.rawData).equals(
        createPublicKey(keyPem).export({ format: "der", type: "spki" }),
      ),
    ).toBe(true);
  });

  it("is accepted by openssl req -verify, including a subject long enough for a two-byte length", () => {
    const dir = mkdtempSync(join(tmpdir(), "csr-"));
    try {
      const cn = `clinic-${"a".repeat(140)}`;
      writeFileSync(join(dir, "req.pem"), createCsrPem(p256(), cn));
      const out = execFileSync(
        "openssl",
        ["req", "-in", join(dir, "req.pem"), "-verify", "-noout", "-subject"],
        {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      expect(out.trim()).toMatch(new RegExp(`^subject=\\s?CN\\s?=\\s?${cn}$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a key that is not ECDSA P-256", () => {
    const ed = generateKeyPairSync("ed25519")
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    expect(() => createCsrPem(ed, "clinic-a-01")).toThrow(/ECDSA P-256/);
  });
});
