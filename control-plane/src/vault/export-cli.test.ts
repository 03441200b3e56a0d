import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleHash,
  createSigner,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  keyId,
  privateKeyFromPem,
  publicKeyOf,
  publicKeyToBase64,
} from "#protocol";
import { loadConfig } from "../config.ts";
import { openSqliteStore } from "../store/index.ts";
import { chain } from "../testing/in-process.ts";

/**
 * `control-plane export` as an operator runs it: a real child process on an initialised data
 * directory, whose output the verifier CLI (another child process) accepts. The vault config is
 * strict: retention below six years and odd segment windows are refused.
 */
const MAIN = join(import.meta.dirname, "..", "main.ts");
const VERIFIER = join(import.meta.dirname, "../../../verifier/main.ts");
const dir = mkdtempSync(join(tmpdir(), "cp-export-"));
const dataDir = join(dir, "data");
let pins: string[] = [];
const run = (main: string, ...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000 });

beforeAll(async () => {
  const init = run(MAIN, "init", "--data-dir", dataDir, "--admin-token-file", join(dir, "token"));
  expect(init.status, init.stderr).toBe(0);
  const store = openSqliteStore(join(dataDir, "control-plane.sqlite"));
  const signer = createSigner(generateEd25519KeyPair().privateKey);
  await store.upsertTenant({
    tenantId: "clinic-x",
    caCertPem: "ca",
    caKeySealed: "s",
    retentionDays: 2192,
  });
  await store.registerAppliance({
    tenantId: "clinic-x",
    applianceId: "x-01",
    macs: ["02:00:00:00:0c:01"],
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
    tokenHash: null,
    tokenExpiresAt: null,
    createdAt: "2026-11-25T08:00:00.000Z",
  });
  const claim = {
    evidencePublicKey: publicKeyToBase64(signer.publicKey),
    evidenceKeyFingerprint: keyId(signer.publicKey),
    csrPem: "csr",
    hostname: "box",
    agentVersion: "0.1.0",
  };
  const at = "2026-11-25T09:00:00.000Z";
  expect(await store.setPending("clinic-x", "x-01", claim)).toBe(true);
  expect(await store.approve("clinic-x", "x-01", claim.evidenceKeyFingerprint)).toBe(true);
  const enrolment = { ...claim, certPem: "c", certFingerprint: "f".repeat(64), at };
  expect(await store.activate("clinic-x", "x-01", enrolment, false)).toBe(true);
  const cpKeyId = keyId(
    publicKeyOf(
      privateKeyFromPem(readFileSync(join(dataDir, "keys", "order-signing.key"), "utf8")),
    ),
  );
  pins = ["--control-plane-key-id", cpKeyId, "--appliance-key-id", signer.keyId];
  const { bundles } = chain(signer, "clinic-x", "x-01", 7, undefined, undefined, cpKeyId);
  const rows = bundles.map((b) => ({
    seq: b.seq,
    hash: bundleHash(b),
    prevHash: b.prev_hash,
    bundleJson: JSON.stringify(b),
  }));
  expect(await store.appendEvidence("clinic-x", "x-01", GENESIS_HEAD, rows, at)).toBe(true);
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("control-plane export", () => {
  const args = (out: string) => [
    "export",
    "--data-dir",
    dataDir,
    "--tenant",
    "clinic-x",
    "--appliance",
    "x-01",
    "--from",
    "2026-11-25T00:00:00Z",
    "--to",
    "2026-11-26T00:00:00Z",
    "--out",
    out,
  ];

  it("writes an export the offline verifier accepts, and never into an existing folder", () => {
    const out = join(dir, "export");
    const exported = run(MAIN, ...args(out));
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/exported bundles 1\.\.7 \(1 checkpoints\)/);
    const verified = run(VERIFIER, out, ...pins);
    expect(verified.stdout).toMatch(/signatures verified 7/);
    expect(verified.stdout).toMatch(/enrollment statement verified/);
    expect(verified.status).toBe(0);
    expect(run(MAIN, ...args(out)).status).toBe(1);
  });

  it("refuses missing or malformed arguments with a usage error", () => {
    const noTenant = run(
      MAIN,
      ...args(join(dir, "x")).filter((a) => a !== "--tenant" && a !== "clinic-x"),
    );
    expect(noTenant.status).toBe(2);
    expect(noTenant.stderr).toMatch(/export needs --tenant/);
    const badTime = run(
      MAIN,
      ...args(join(dir, "y")).map((a) => (a.startsWith("2026-11-26") ? "tomorrow" : a)),
    );
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toMatch(/--to must be an RFC 3339 UTC time/);
  });

  it("refuses a retention below six years, a slower job than hourly and odd segment windows", () => {
    const withVault = (vault: unknown) => () => loadConfig({ dataDir: dir, overrides: { vault } });
    expect(withVault({ retention_days: 2191 })).toThrow(/at least six years/);
    expect(withVault({ job_interval_s: 7200 })).toThrow(/vault\.job_interval_s/);
    expect(withVault({ segment_seconds: 7 })).toThrow(/divisor of 3600/);
    expect(withVault({ archive: { kind: "s3" } })).toThrow(/vault\.archive\.bucket/);
    expect(
      loadConfig({ dataDir: dir, overrides: { vault: { retention_days: 3000 } } }).vault,
    ).toMatchObject({
      retention_days: 3000,
      archive: { kind: "local-not-worm" },
    });
  });
});
