import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

it("the lab (npm start) runs the trust loop end to end as a real child process", async () => {
  const root = join(import.meta.dirname, "..");
  const { stdout } = await run(process.execPath, [join(root, "scripts", "lab.ts")], { cwd: root });
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^\[lab\] LAB MODE/);
  expect(stdout).toMatch(/order 1 accepted: RB-SERVICE-001-crash/);
  expect(stdout).toMatch(/order 2 refused: bad_signature/);
  expect(stdout).toMatch(/order 3 refused: replayed/);
  expect(stdout).toMatch(/auditor: 7 bundles, chain intact/);
  expect(stdout).toMatch(/after rewriting bundle 2, detected bad_signature at seq 2/);
});
