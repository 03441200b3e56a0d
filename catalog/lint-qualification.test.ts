import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lintCatalog, loadCatalog } from "./lint-catalog.ts";
import { MIN_ESCALATE_CASES } from "./lint-qualification.ts";
import { CATALOG_PATHS } from "./read-files.ts";
import { breakFile, copyCatalog, REPO_ROOT } from "./test-support.ts";

const FILE = CATALOG_PATHS.qualification;
let copy: ReturnType<typeof copyCatalog> | undefined;
afterEach(() => copy?.remove());

function withQualification() {
  copy = copyCatalog();
  cpSync(join(REPO_ROOT, "qualification"), join(copy.root, "qualification"), { recursive: true });
  return copy.root;
}

describe("the model qualification set", () => {
  it("ships at least 40 cases expecting every L2 trigger, and cases that must escalate", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const cases = catalog.qualification?.cases ?? [];
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(cases.filter((c) => c.expect === "escalate").length).toBeGreaterThanOrEqual(
      MIN_ESCALATE_CASES,
    );
    const expected = new Set(cases.map((c) => c.expect));
    for (const r of catalog.runbooks.filter((r) => r.tiers.includes("L2"))) {
      expect(expected.has(r.id), r.id).toBe(true);
    }
  });

  it.each([
    [
      "an unknown member",
      "    expect: RB-CERT-001-expiry\n",
      "    expect: RB-CERT-001-expiry\n    params: { unit: sshd.service }\n",
      "schema",
    ],
    [
      "a runbook that does not match the incident",
      "    expect: RB-CERT-001-expiry\n",
      "    expect: RB-DISK-001-full\n",
      "trigger_mismatch",
    ],
    [
      "a finding the check does not declare",
      "code: tls_version_weak",
      "code: tls_version_bad",
      "dangling_finding",
    ],
  ])("refuses %s, at its line", async (_name, from, to, code) => {
    const root = withQualification();
    const line = breakFile(root, FILE, from, to);
    const { problems } = await lintCatalog(root);
    const problem = problems.find((p) => p.code === code);
    expect(problem, JSON.stringify(problems)).toMatchObject({ file: FILE });
    expect(problem?.line).toBeGreaterThanOrEqual(line - 8);
  });

  it("refuses a set that no longer expects a runbook trigger", async () => {
    const root = withQualification();
    breakFile(root, FILE, "    expect: RB-CERT-001-expiry\n", "    expect: escalate\n");
    const { problems } = await lintCatalog(root);
    expect(problems.map((p) => [p.code, p.message])).toContainEqual([
      "qualification_coverage",
      "no case expects RB-CERT-001-expiry for encryption/certificate_expiring",
    ]);
  });
});
