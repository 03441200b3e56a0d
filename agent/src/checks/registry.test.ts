import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CITATION_PATTERN, DRIFT_CHECK_IDS, DRIFT_CHECKS, isDeclaredFinding } from "#catalog";
import { CHECKS } from "./registry.ts";
import { repoBaseline, togglesFor } from "./testing.ts";

/**
 * Conformance of the drift checks (the many-similar-units rule): the registry, the folders
 * under checks/ and the catalog's DRIFT_CHECK_IDS are the same six; every check is a complete
 * contract object whose findings the catalog declares and whose citations are exactly those of
 * the baseline toggles it observes; every folder has a README, a test and recorded fixtures.
 */
const here = import.meta.dirname;
const folders = readdirSync(here)
  .filter((name) => statSync(join(here, name)).isDirectory())
  .sort();

describe("the drift check registry", () => {
  it("equals the folders and the catalog's check ids, sorted", () => {
    const ids = Object.keys(CHECKS);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(folders);
    expect(ids).toEqual([...DRIFT_CHECK_IDS].sort());
  });

  it.each(DRIFT_CHECK_IDS)("%s is a complete contract object", async (id) => {
    const check = CHECKS[id];
    expect(check.id).toBe(id);
    expect(check.title.length).toBeGreaterThan(10);
    expect(check.findings.length).toBeGreaterThan(0);
    for (const finding of check.findings) {
      expect(isDeclaredFinding(id, finding), `${id}/${finding} in catalog/drift-checks.ts`).toBe(
        true,
      );
      expect((DRIFT_CHECKS[id].findings as readonly string[]).includes(finding)).toBe(true);
    }
    expect([...check.findings]).toEqual([...check.findings].sort());
    // Citations: exactly those of the baseline toggles naming this check and a finding it reports.
    const toggles = togglesFor(await repoBaseline(), id, check.findings);
    const fromBaseline = [...new Set(toggles.flatMap((t) => t.citations))].sort();
    expect(fromBaseline.length).toBeGreaterThan(0);
    expect([...check.citations].sort()).toEqual(fromBaseline);
    for (const c of check.citations) expect(c).toMatch(CITATION_PATTERN);
    // Severity: the highest of those toggles.
    const rank = ["low", "medium", "high", "critical"];
    const highest = toggles
      .map((t) => rank.indexOf(t.severity))
      .reduce((a, b) => Math.max(a, b), 0);
    expect(check.severity).toBe(rank[highest]);
  });

  it.each(DRIFT_CHECK_IDS)("%s has a README, a test and fixtures with their sources", (id) => {
    const dir = join(here, id);
    expect(existsSync(join(dir, "check.ts"))).toBe(true);
    expect(existsSync(join(dir, "check.test.ts"))).toBe(true);
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    expect(readme).toMatch(new RegExp(`^# ${id}\\b`));
    for (const c of CHECKS[id].citations) expect(readme).toContain(c);
    for (const f of CHECKS[id].findings) expect(readme).toContain(f);
    const fixtures = readdirSync(join(dir, "fixtures"));
    expect(fixtures.length).toBeGreaterThan(0);
    // Each fixture file is named in the README's fixture table, with where it came from.
    for (const f of fixtures)
      expect(readme, `${id}/README.md names fixtures/${f}`).toContain(`fixtures/${f}`);
  });
});
