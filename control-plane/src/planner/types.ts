/** Types the planner shares, re-exported from their one source. */
export type { Runbook } from "#catalog";
export type { Incident, L1RuleEntry, OrderParams, Tier } from "#protocol";
