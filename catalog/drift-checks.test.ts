import { describe, expect, it } from "vitest";
import { DRIFT_CHECK_IDS, DRIFT_CHECKS } from "./drift-checks.ts";
import { loadCatalog } from "./lint-catalog.ts";
import { REPO_ROOT } from "./test-support.ts";

describe("drift checks", () => {
  it("are exactly the six the agent implements", () => {
    expect(DRIFT_CHECK_IDS).toEqual([
      "patching",
      "services",
      "backups",
      "firewall",
      "logging",
      "encryption",
    ]);
  });

  it("declare sorted, unique, snake_case finding kinds", () => {
    for (const id of DRIFT_CHECK_IDS) {
      const findings = [...DRIFT_CHECKS[id].findings];
      expect(findings).toEqual([...new Set(findings)].sort());
      for (const f of findings) expect(f).toMatch(/^[a-z][a-z0-9_]*$/);
    }
  });

  it("declare no finding that the shipped catalog never uses", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const used = new Set([
      ...catalog.toggles.map((t) => `${t.check.id}/${t.check.finding}`),
      ...catalog.runbooks.flatMap((r) =>
        r.triggers.flatMap((t) => t.findings.map((f) => `${t.check}/${f}`)),
      ),
    ]);
    const declared = DRIFT_CHECK_IDS.flatMap((id) =>
      DRIFT_CHECKS[id].findings.map((f) => `${id}/${f}`),
    );
    expect(declared.filter((d) => !used.has(d))).toEqual([]);
  });
});
