import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CentralStackConfig, TenantStackConfig } from "./stack-config.ts";

/**
 * docs/operators.md walked as far as it goes offline: every command it gives names something
 * that exists here (npm scripts, stack keys, files), Pulumi runs through `npm run pulumi`, and
 * the release checks are the OpenSSL commands scripts/release/release.test.ts runs.
 */
const root = resolve(import.meta.dirname, "..");
const doc = readFileSync(join(root, "docs", "operators.md"), "utf8");
const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: object }).scripts,
);

describe("docs/operators.md", () => {
  it("names only npm scripts that exist, and runs Pulumi through npm run pulumi", () => {
    const used = new Set([...blocks.join("\n").matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]));
    expect([...used].filter((s) => !scripts.includes(String(s)))).toEqual([]);
    expect(used).toContain("pulumi");
    expect(used).toContain("release");
    for (const b of blocks) {
      expect(b).not.toMatch(/npm exec/);
      expect(b).not.toMatch(/^pulumi (up|preview|refresh|destroy)/m);
    }
  });

  it("names only stack keys the schemas know", () => {
    const known = new Set([
      ...Object.keys(TenantStackConfig.shape),
      ...Object.keys(CentralStackConfig.shape),
    ]);
    const named = new Set([...doc.matchAll(/msp:([a-zA-Z]+)/g)].map((m) => String(m[1])));
    // The sample error message names msp:bucketName on purpose, as the unknown key.
    expect([...named].filter((k) => !known.has(k))).toEqual(["bucketName"]);
    for (const key of ["releaseManifest", "releaseSignature", "releasePublicKey", "sshKeyNames"]) {
      expect(named).toContain(key);
    }
  });

  it("gives the permissions, the passphrase, offline plugins, cloud-init and the stack order", () => {
    for (const must of [
      "Zone → DNS → Edit",
      "sts:GetCallerIdentity",
      "Read & Write",
      "PULUMI_CONFIG_PASSPHRASE",
      "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
      "--file pulumi-resource-aws-v7.48.0-linux-amd64.tar.gz",
      "cloud-init-output.log",
      "## Order of stacks",
    ]) {
      expect(doc, must).toContain(must);
    }
  });

  it("verifies a release with the OpenSSL commands the release test runs", () => {
    const release = blocks.find((b) => b.includes("openssl pkeyutl")) ?? "";
    expect(release.replace(/\\\n\s*/g, "")).toContain(
      "openssl pkeyutl -verify -pubin -inkey release-key.pub.pem -rawin -in manifest.json -sigfile manifest.json.sig",
    );
  });
});
