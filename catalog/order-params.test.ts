import { describe, expect, it } from "vitest";
import { loadCatalog } from "./lint-catalog.ts";
import { checkOrderParams } from "./order-params.ts";
import { REPO_ROOT } from "./test-support.ts";

describe("checkOrderParams (protocol OrderContext.checkParams)", async () => {
  const catalog = await loadCatalog(REPO_ROOT);

  it.each([
    ["RB-SERVICE-001-crash", { unit: "chronyd.service" }],
    ["RB-BACKUP-001-failure", { job: "clinic-data" }],
    ["RB-FIREWALL-001-drift", {}],
  ])("accepts %s with %j", (runbook, params) => {
    expect(checkOrderParams(catalog, runbook, params)).toBeNull();
  });

  it.each([
    ["RB-SERVICE-001-crash", { unit: "compliance-agent.service" }, /not an allowed unit/],
    ["RB-SERVICE-001-crash", { unit: "sshd.service; reboot" }, /systemd unit name/],
    ["RB-SERVICE-001-crash", {}, /unit/],
    ["RB-FIREWALL-001-drift", { ruleset: "open" }, /ruleset/],
    ["RB-NOPE-001-missing", {}, /not in the catalog/],
  ])("rejects %s with %j", (runbook, params, problem) => {
    expect(checkOrderParams(catalog, runbook, params)).toMatch(problem);
  });
});
