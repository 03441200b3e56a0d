import type { DriftCheckId } from "#catalog";

/**
 * An L1 rule: a drift finding the appliance heals on its own, with one pre-approved runbook.
 * Rules come from the catalog (runbooks whose tiers include L1 and whose triggers match) and from
 * signed rule sets the operator approved through the data flywheel.
 */
export interface L1Rule {
  readonly ruleId: string;
  readonly check: DriftCheckId;
  readonly finding: string;
  readonly runbookId: string;
  readonly source: "catalog" | "flywheel";
  /** The signed rule set's version, for flywheel rules. */
  readonly version?: number;
}

/** Where the L1 engine gets rules beyond the catalog's: the latest verified signed rule set. */
export interface L1RuleSource {
  rules(): readonly L1Rule[];
}
