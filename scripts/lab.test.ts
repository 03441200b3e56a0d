import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

it("the lab (npm start) runs the real control plane and agent end to end", async () => {
  const root = join(import.meta.dirname, "..");
  const { stdout } = await run(process.execPath, [join(root, "scripts", "lab.ts")], {
    cwd: root,
    timeout: 110_000,
  });
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^\[lab\] LAB MODE/);
  expect(stdout).toMatch(/control plane \(SQLite\) at https:\/\/127\.0\.0\.1:\d+/);
  expect(stdout).toMatch(/agent enrolled; evidence key fingerprint [0-9a-f]{16}/);
  expect(stdout).toMatch(/order 1 RB-SERVICE-001-crash \{"unit":"chronyd.service"\} → succeeded/);
  expect(stdout).toMatch(/order 2 RB-NOPE-001-unknown \{\} → rejected/);
  expect(stdout).toMatch(
    /checks: patching pass, services pass, backups pass, firewall pass, logging pass, encryption pass/,
  );
  expect(stdout).toMatch(/firewall check: drift ssh_exposed at rule inet filter input #5/);
  expect(stdout).toMatch(/healer: L1 rule → RB-FIREWALL-001-drift → healed/);
  expect(stdout).toMatch(/chain intact from genesis/);
  expect(stdout).toMatch(/after rewriting bundle 2, detected bad_signature at seq 2/);
}, 120_000);
