import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { breakFile, copyCatalog, REPO_ROOT } from "./test-support.ts";

const LINT = join(REPO_ROOT, "catalog", "lint.ts");

// Spawned with process.execPath: the project's Node 24, which runs .ts by type stripping.
function lint(...args: string[]) {
  const run = spawnSync(process.execPath, [LINT, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("npm run lint:catalog (catalog/lint.ts)", () => {
  let remove = () => {};
  afterEach(() => remove());

  it("exits 0 on the shipped catalog and prints the counts", () => {
    const run = lint("--today=2026-11-25");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(
      /^catalog lint: ok: \d+ toggles, \d+ runbooks, \d+ controls-map rows \(\d+ covered, \d+ partial, \d+ out of scope\)/,
    );
  });

  it("exits 1 and prints file:line:column field: message for each problem", () => {
    const copy = copyCatalog();
    remove = copy.remove;
    const line = breakFile(
      copy.root,
      "runbooks/RB-DISK-001-full.yaml",
      "action: nix.collect_garbage",
      "action: nix.optimise_store",
    );
    const run = lint(copy.root, "--today=2026-11-25");
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `runbooks/RB-DISK-001-full.yaml:${line}:5 steps[0].action: "nix.optimise_store" is not in the action allowlist (allowed actions: nix.collect_garbage)`,
    );
    expect(run.stderr).toContain("catalog lint: 1 problem");
  });

  it("exits 2 on bad usage", () => {
    expect(lint("--today=tomorrow").status).toBe(2);
    expect(lint("--fix").status).toBe(2);
  });
});
