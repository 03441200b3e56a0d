import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  publicKeyFromPem,
  sha256Hex,
  signingBytes,
  verificationKey,
  verifyDocument,
} from "#protocol";
import { openSqliteStore } from "../store/index.ts";
import type { PacketManifest } from "./index.ts";

/** `control-plane packet` as an operator runs it: a real child process on a real data dir. */
const MAIN = join(import.meta.dirname, "..", "main.ts");
const dir = mkdtempSync(join(tmpdir(), "cp-packet-cli-"));
const dataDir = join(dir, "data");
const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 60_000 });

beforeAll(async () => {
  const init = run("init", "--data-dir", dataDir, "--admin-token-file", join(dir, "token"));
  expect(init.status, init.stderr).toBe(0);
  const store = openSqliteStore(join(dataDir, "control-plane.sqlite"));
  await store.upsertTenant({
    tenantId: "example-dental",
    caCertPem: "ca",
    caKeySealed: "sealed",
    retentionDays: 2192,
  });
  await store.close();
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("writes a signed packet to a new folder and records it", async () => {
  const out = join(dir, "out");
  const res = run(
    "packet",
    "--data-dir",
    dataDir,
    "--tenant",
    "example-dental",
    "--month",
    "2026-10",
    "--out",
    out,
  );
  expect(res.status, res.stderr).toBe(0);
  expect(res.stdout).toMatch(/packet example-dental 2026-10/);
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as PacketManifest;
  const key = verificationKey(
    publicKeyFromPem(readFileSync(join(dataDir, "keys", "order-signing.pub.pem"), "utf8")),
  );
  expect(verifyDocument(manifest, key)).toBe(true);
  const moved: PacketManifest = { ...manifest, month: "2026-09" };
  expect(verifyDocument(moved, key, signingBytes(moved))).toBe(false);
  for (const f of manifest.files) expect(sha256Hex(readFileSync(join(out, f.name)))).toBe(f.sha256);
  expect(readFileSync(join(out, "packet.md"), "utf8")).toContain("ssh-idle-timeout");
  expect(
    existsSync(join(dataDir, "packets", "example-dental", "2026-10", "v1", "packet.pdf")),
  ).toBe(true);
  const store = openSqliteStore(join(dataDir, "control-plane.sqlite"));
  try {
    expect((await store.listPackets("example-dental")).map((p) => p.month)).toEqual(["2026-10"]);
    expect((await store.listAudit(0, 100)).map((a) => a.action)).toContain("packet.generated");
  } finally {
    await store.close();
  }
  // Again: refused without a reason; with one, version 2 beside version 1, both listed.
  const again = [
    "packet",
    "--data-dir",
    dataDir,
    "--tenant",
    "example-dental",
    "--month",
    "2026-10",
  ];
  const refused = run(...again, "--out", join(dir, "out2"));
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/reason: required/);
  const v2 = run(...again, "--out", join(dir, "out2"), "--reason", "auditor asked for a rerun");
  expect(v2.status, v2.stderr).toBe(0);
  expect(v2.stdout).toMatch(/packet example-dental 2026-10 version 2/);
  const v1Hash = sha256Hex(readFileSync(join(out, "manifest.json")));
  const list = run("packet", "--data-dir", dataDir, "--tenant", "example-dental", "--list");
  expect(list.status, list.stderr).toBe(0);
  const lines = list.stdout.trim().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(
    new RegExp(
      `^2026-10 v2 \\S+ by cli manifest [0-9a-f]{64} replaces ${v1Hash} reason: auditor asked for a rerun$`,
    ),
  );
  expect(lines[1]).toMatch(new RegExp(`^2026-10 v1 \\S+ by cli manifest ${v1Hash}$`));
});

it("refuses a bad month, an existing --out, and an unknown tenant", () => {
  const base = ["packet", "--data-dir", dataDir, "--tenant", "example-dental"];
  const bad = run(...base, "--month", "2026-13", "--out", join(dir, "x"));
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--month must be a month such as 2026-11/);
  const exists = run(...base, "--month", "2026-10", "--out", dir);
  expect(exists.status).toBe(2);
  expect(exists.stderr).toMatch(/exists; give a new folder/);
  const unknown = run(
    "packet",
    "--data-dir",
    dataDir,
    "--tenant",
    "nobody",
    "--month",
    "2026-10",
    "--out",
    join(dir, "y"),
  );
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toMatch(/no tenant nobody/);
  expect(existsSync(join(dir, "y"))).toBe(false);
}, 120_000);
