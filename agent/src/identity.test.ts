import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { loadOrCreateIdentity } from "./identity.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it("makes missing key folders 0700 and key files 0600 on first start, then reuses the keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-identity-"));
  dirs.push(dir);
  const paths = {
    evidenceKeyPath: join(dir, "keys", "evidence", "evidence-key.pem"),
    tlsKeyPath: join(dir, "keys", "tls", "tls-key.pem"),
  };
  const first = loadOrCreateIdentity(paths);
  expect(first.generated).toBe(true);
  expect(statSync(join(dir, "keys", "evidence")).mode & 0o777).toBe(0o700);
  expect(statSync(paths.evidenceKeyPath).mode & 0o777).toBe(0o600);
  expect(statSync(paths.tlsKeyPath).mode & 0o777).toBe(0o600);
  const again = loadOrCreateIdentity(paths);
  expect(again.generated).toBe(false);
  expect(again.fingerprint).toBe(first.fingerprint);
});
