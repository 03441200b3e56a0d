import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const flywheelContract = defineStoreContract("planner: flywheel", (store) => {
  it("one proposal per pattern, decided once; rule set versions are unique", async () => {
    const p = store().planner;
    const proposal = {
      proposalId: randomUUID(),
      tenantId: "clinic-a",
      patternKey: "services/unit_failed",
      checkId: "services",
      finding: "unit_failed",
      runbookId: "RB-SERVICE-001-crash",
      successes: 5,
      status: "proposed" as const,
      createdAt: at,
    };
    expect(await p.createProposal(proposal)).toBe(true);
    expect(await p.createProposal({ ...proposal, proposalId: randomUUID() })).toBe(false);
    expect(await p.getProposal("clinic-b", proposal.proposalId)).toBeUndefined();
    expect(
      await p.decideProposal("clinic-a", proposal.proposalId, "approved", later, "op", null),
    ).toBe(true);
    expect(
      await p.decideProposal("clinic-a", proposal.proposalId, "rejected", later, "op", null),
    ).toBe(false);
    expect((await p.listProposals("clinic-a"))[0]).toMatchObject({
      status: "approved",
      decidedBy: "op",
    });
    expect(await p.latestRuleSet("clinic-a")).toBeUndefined();
    const set = { tenantId: "clinic-a", version: 1, issuedAt: at, rulesJson: "[]" };
    expect(await p.appendRuleSet(set)).toBe(true);
    expect(await p.appendRuleSet(set)).toBe(false);
    expect(await p.appendRuleSet({ ...set, version: 2, rulesJson: "[1]" })).toBe(true);
    expect(await p.latestRuleSet("clinic-a")).toMatchObject({ version: 2, rulesJson: "[1]" });
    expect(await p.latestRuleSet("clinic-b")).toBeUndefined();
  });
});
