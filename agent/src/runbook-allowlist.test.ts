import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadRunbookAllowlist } from "./runbook-allowlist.ts";

const repositoryCatalog = join(import.meta.dirname, "..", "..");

describe("the runbook allowlist", () => {
  it("is exactly the shipped runbooks, with each runbook's parameter schema", async () => {
    const allowlist = await loadRunbookAllowlist(repositoryCatalog);
    expect(allowlist.has("RB-SERVICE-001-crash")).toBe(true);
    expect(allowlist.has("RB-BACKUP-001-failure")).toBe(true);
    expect(allowlist.has("RB-NOT-001-shipped")).toBe(false);
    expect(allowlist.checkParams?.("RB-SERVICE-001-crash", { unit: "chronyd.service" })).toBeNull();
    // A unit outside the baseline's allowed units, and a shell string, are refused.
    expect(
      allowlist.checkParams?.("RB-SERVICE-001-crash", { unit: "compliance-agent.service" }),
    ).toMatch(/unit/);
    expect(allowlist.checkParams?.("RB-SERVICE-001-crash", { unit: "sshd; rm -rf /" })).toMatch(
      /unit/,
    );
  });

  it("allows nothing without a catalog", async () => {
    const allowlist = await loadRunbookAllowlist(undefined);
    expect(allowlist.has("RB-SERVICE-001-crash")).toBe(false);
  });

  it("fails closed on a folder that holds no valid catalog", async () => {
    await expect(loadRunbookAllowlist("/nonexistent-catalog")).rejects.toThrow();
  });
});
