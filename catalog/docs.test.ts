import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ACTION_NAMES } from "./actions.ts";
import { DRIFT_CHECK_IDS } from "./drift-checks.ts";
import { PROBLEM_CODES } from "./errors.ts";
import { loadCatalog } from "./lint-catalog.ts";
import { REPO_ROOT } from "./test-support.ts";

// docs/baseline.md is how an MSP learns the catalog; every unit it can meet must be in it.
describe("docs/baseline.md", async () => {
  const doc = readFileSync(join(REPO_ROOT, "docs", "baseline.md"), "utf8");
  const catalog = await loadCatalog(REPO_ROOT);
  const units = [
    ...ACTION_NAMES.map((a) => ["action", a]),
    ...DRIFT_CHECK_IDS.map((c) => ["check", c]),
    ...PROBLEM_CODES.map((p) => ["problem code", p]),
    ...catalog.runbooks.map((r) => ["runbook", r.id]),
  ];

  it.each(units)("documents %s %s", (_kind, name) => {
    const row = new RegExp(`^\\| \`${name.replaceAll(".", "\\.")}\` +\\|`, "m");
    expect(doc).toMatch(row);
  });
});
