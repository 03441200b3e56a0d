import type { DriftCheckId, Runbook } from "#catalog";
import type { L1Rule, L1RuleSource } from "./l1-rule-source.ts";

/**
 * The L1 engine: a finding (check id + finding kind) maps to at most one pre-approved runbook,
 * deterministically and locally. Rules come from the shipped catalog (runbooks whose tiers include
 * L1, one rule per trigger finding) and from an optional source of operator-approved flywheel
 * rules. Matching is one Map lookup on a precomputed index; the index is rebuilt only when the
 * source hands out a new rule list.
 *
 * Precedence: a catalog rule wins over a flywheel rule for the same finding (the catalog ships in
 * the appliance's Nix closure and was reviewed with it); among flywheel rules the newest version
 * wins. A flywheel rule naming a runbook the catalog does not ship is ignored: rules can only
 * choose among runbooks this appliance already trusts.
 */
export interface L1Engine {
  match(check: DriftCheckId, finding: string): L1Rule | undefined;
  rules(): readonly L1Rule[];
}

const key = (check: string, finding: string) => `${check}\u0000${finding}`;

export function catalogL1Rules(runbooks: readonly Runbook[]): L1Rule[] {
  const rules: L1Rule[] = [];
  for (const runbook of runbooks) {
    if (!runbook.tiers.includes("L1")) continue;
    for (const trigger of runbook.triggers) {
      for (const finding of trigger.findings) {
        rules.push({
          ruleId: `catalog:${runbook.id}:${trigger.check}:${finding}`,
          check: trigger.check as DriftCheckId,
          finding,
          runbookId: runbook.id,
          source: "catalog",
        });
      }
    }
  }
  return rules;
}

export function createL1Engine(runbooks: readonly Runbook[], source?: L1RuleSource): L1Engine {
  const shipped = new Set(runbooks.map((r) => r.id));
  const catalogIndex = new Map<string, L1Rule>();
  for (const rule of catalogL1Rules(runbooks)) {
    // Two catalog runbooks for one finding would be a catalog defect; the first (sorted) wins.
    if (!catalogIndex.has(key(rule.check, rule.finding))) {
      catalogIndex.set(key(rule.check, rule.finding), rule);
    }
  }
  let seen: readonly L1Rule[] | undefined;
  let index = catalogIndex;

  const current = (): Map<string, L1Rule> => {
    if (source === undefined) return index;
    const flywheel = source.rules();
    if (flywheel === seen) return index;
    const merged = new Map(catalogIndex);
    for (const rule of flywheel) {
      if (!shipped.has(rule.runbookId)) continue;
      const k = key(rule.check, rule.finding);
      const existing = merged.get(k);
      if (existing?.source === "catalog") continue;
      if (existing && (existing.version ?? 0) >= (rule.version ?? 0)) continue;
      merged.set(k, rule);
    }
    seen = flywheel;
    index = merged;
    return index;
  };

  return {
    match: (check, finding) => current().get(key(check, finding)),
    rules: () => [...current().values()],
  };
}
