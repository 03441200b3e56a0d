import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type DriftCheckId, isDeclaredFinding } from "#catalog";
import {
  type EvidenceEvent,
  type L1RuleSet,
  type L1RuleSetVerdict,
  type VerificationKey,
  verifyL1RuleSet,
} from "#protocol";
import { writeFileAtomic } from "../atomic-file.ts";
import type { L1Rule, L1RuleSource } from "../healing/l1-rule-source.ts";
import type { RunbookAllowlist } from "../ports.ts";

/**
 * The appliance side of the data flywheel: the site's operator-approved L1 rules, delivered as
 * a signed rule set in the poll response. A set is adopted only when protocol's verifyL1RuleSet
 * accepts it (the pinned order-signing key, this appliance as audience, a version that never
 * goes back, every runbook in the local allowlist, every finding declared by the local
 * catalog); it is then written atomically to state_dir (so a restart keeps it and re-verifies
 * it) and recorded as evidence. A refused set is evidence too, once per distinct set, and the
 * set in force stays. It is the L1RuleSource the healer's L1 engine reads.
 */
export const RULE_SET_FILE = "l1-rules.json";

export interface FlywheelBinding {
  readonly key: VerificationKey;
  readonly tenantId: string;
  readonly applianceId: string;
  /** Records evidence durably (the journal). */
  readonly record: (events: readonly EvidenceEvent[]) => void;
  /**
   * The highest version ever adopted, kept apart from the file (the journal's state table), so
   * replacing the file with an older signed set is refused as a rollback after a restart too.
   */
  readonly highWater?: { get(): number; set(version: number): void };
}

export interface FlywheelRules extends L1RuleSource {
  /** Called once the appliance knows its identity: loads and re-verifies the persisted set. */
  bind(binding: FlywheelBinding): void;
  /** A rule set as delivered in a verified poll response (untrusted until verified here). */
  offer(raw: unknown): L1RuleSetVerdict | undefined;
  /** The version in force (0 when none). */
  version(): number;
}

export function flywheelRules(options: {
  readonly stateDir: string;
  readonly allowlist: RunbookAllowlist;
}): FlywheelRules {
  const path = join(options.stateDir, RULE_SET_FILE);
  let binding: FlywheelBinding | undefined;
  let current: { set: L1RuleSet; hash: string; rules: readonly L1Rule[] } | undefined;
  let lastRefused: string | undefined;

  // Without a set in force (first start, or a file refused after a restart) the floor is the
  // high-water mark: that very version may come again, an older one may not.
  const verify = (raw: unknown, b: FlywheelBinding, from: typeof current, floor: number) =>
    verifyL1RuleSet(raw, {
      key: b.key,
      tenantId: b.tenantId,
      applianceId: b.applianceId,
      currentVersion: Math.max(from?.set.version ?? 0, floor),
      ...(from ? { currentHash: from.hash } : {}),
      runbooks: options.allowlist,
      isDeclaredFinding,
    });

  const adopt = (set: L1RuleSet, hash: string) => {
    current = {
      set,
      hash,
      rules: set.rules.map((r) => ({
        ruleId: r.rule_id,
        check: r.check_id as DriftCheckId,
        finding: r.finding,
        runbookId: r.runbook_id,
        source: "flywheel" as const,
        version: set.version,
      })),
    };
  };

  const refused = (b: FlywheelBinding, verdict: Extract<L1RuleSetVerdict, { ok: false }>) => {
    const key = verdict.hash ?? `${verdict.reason}:${verdict.detail}`;
    if (key === lastRefused) return;
    lastRefused = key;
    b.record([
      {
        kind: "l1_rules_refused",
        reason: verdict.reason,
        detail: verdict.detail.slice(0, 500),
        ...(verdict.claimed ? { version: verdict.claimed.version } : {}),
        ...(verdict.hash ? { rule_set_hash: verdict.hash } : {}),
      },
    ]);
  };

  return {
    rules: () => current?.rules ?? [],
    version: () => current?.set.version ?? 0,
    bind(b) {
      binding = b;
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return; // no rule set yet
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        raw = text;
      }
      // The persisted set is re-verified like a delivered one: a file changed on disk is refused.
      const verdict = verify(raw, b, undefined, 0);
      const floor = b.highWater?.get() ?? 0;
      if (verdict.ok && verdict.ruleSet.version < floor) {
        refused(b, {
          ok: false,
          reason: "version_rollback",
          detail: `the persisted set has version ${verdict.ruleSet.version}, below ${floor} adopted before`,
          claimed: verdict.ruleSet,
          hash: verdict.hash,
        });
      } else if (verdict.ok) adopt(verdict.ruleSet, verdict.hash);
      else refused(b, verdict);
    },
    offer(raw) {
      const b = binding;
      if (!b) return undefined;
      const floor = b.highWater?.get() ?? 0;
      let verdict = verify(raw, b, current, floor - 1);
      if (!verdict.ok && verdict.reason === "version_reused" && !current) {
        // Without a set in force, a "reused" version is the one just below the high-water mark.
        verdict = {
          ...verdict,
          reason: "version_rollback",
          detail: `version below ${floor} adopted before`,
        };
      }
      if (!verdict.ok) {
        refused(b, verdict);
        return verdict;
      }
      if (!verdict.changed) return verdict;
      // Persist first: the set in force is always one that survives a restart.
      writeFileAtomic(path, JSON.stringify(verdict.ruleSet));
      b.highWater?.set(verdict.ruleSet.version);
      adopt(verdict.ruleSet, verdict.hash);
      b.record([
        {
          kind: "l1_rules_applied",
          version: verdict.ruleSet.version,
          rule_set_hash: verdict.hash,
          rules: verdict.ruleSet.rules.length,
        },
      ]);
      return verdict;
    },
  };
}
