import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { privateKeyFromPem, publicKeyOf, publicKeyToBase64 } from "#protocol";

/** `init --order-signing-key-file`: the central Pulumi stack hands over the key it keeps. */
const MAIN = join(import.meta.dirname, "..", "main.ts");
const dir = mkdtempSync(join(tmpdir(), "cp-init-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const init = (dataDir: string, keyFile: string) =>
  spawnSync(
    process.execPath,
    [
      MAIN,
      "init",
      "--data-dir",
      dataDir,
      "--order-signing-key-file",
      keyFile,
      "--admin-token-file",
      join(dataDir, "..", `${Math.random()}.token`),
    ],
    { encoding: "utf8", timeout: 60_000 },
  );

describe("control-plane init --order-signing-key-file", () => {
  it("uses the given Ed25519 key and publishes its public key", () => {
    const keyFile = join(dir, "order.key");
    execFileSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", keyFile]);
    const data = join(dir, "with-key");
    const run = init(data, keyFile);
    expect(run.status, run.stderr).toBe(0);
    const expected = publicKeyToBase64(
      publicKeyOf(privateKeyFromPem(readFileSync(keyFile, "utf8"))),
    );
    expect(run.stdout).toContain(`order signing public key (base64): ${expected}`);
    expect(readFileSync(join(data, "keys", "order-signing.pub.b64"), "utf8").trim()).toBe(expected);
  });

  it("refuses a key of another type with exit code 2 and writes no key", () => {
    const keyFile = join(dir, "p256.key");
    execFileSync("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      keyFile,
    ]);
    const data = join(dir, "wrong-key");
    const run = init(data, keyFile);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--order-signing-key-file must hold an Ed25519 private key");
    expect(existsSync(join(data, "keys", "order-signing.key"))).toBe(false);
  });
});
