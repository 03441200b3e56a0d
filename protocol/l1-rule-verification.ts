import { sha256Hex } from "./encoding.ts";
import { tryParseMessage } from "./parse.ts";
import { L1RuleSet, type L1RuleSetRejectionReason } from "./schemas/l1-rules.ts";
import { signingBytes, type VerificationKey, verifyDocument } from "./signed-document.ts";

/**
 * What the appliance checks before it adopts a signed L1 rule set (the same trust model as
 * orders: docs/architecture.md "Orders", TUF 5.3/5.4). A compromised control plane can at most make
 * the appliance heal a declared finding with a runbook it already trusts.
 */
export interface L1RuleSetContext {
  /** The control plane's pinned order-signing key. */
  readonly key: VerificationKey;
  readonly tenantId: string;
  readonly applianceId: string;
  /** The version in force (0 when none); persisted across restarts. */
  readonly currentVersion: number;
  /** The hash of the set in force, so a re-sent identical set is recognised. */
  readonly currentHash?: string;
  /** The appliance's local runbook allowlist. */
  readonly runbooks: { has(runbookId: string): boolean };
  /** Whether the check may report the finding (the catalog's declared findings). */
  readonly isDeclaredFinding?: (check: string, finding: string) => boolean;
}

export type L1RuleSetVerdict =
  | {
      readonly ok: true;
      readonly ruleSet: L1RuleSet;
      /** SHA-256 of the signed bytes: what evidence records and the appliance persists. */
      readonly hash: string;
      /** False when this is the set already in force (same version, same bytes). */
      readonly changed: boolean;
    }
  | {
      readonly ok: false;
      readonly reason: L1RuleSetRejectionReason;
      readonly detail: string;
      readonly claimed?: L1RuleSet;
      readonly hash?: string;
    };

export function verifyL1RuleSet(raw: unknown, context: L1RuleSetContext): L1RuleSetVerdict {
  const parsed = tryParseMessage(L1RuleSet, raw);
  if (!parsed.ok) return { ok: false, reason: "malformed", detail: parsed.problem };
  const ruleSet = parsed.value;
  const bytes = signingBytes(ruleSet);
  const hash = sha256Hex(bytes);
  const reject = (reason: L1RuleSetRejectionReason, detail: string): L1RuleSetVerdict => ({
    ok: false,
    reason,
    detail,
    claimed: ruleSet,
    hash,
  });
  if (!verifyDocument(ruleSet, context.key, bytes)) {
    return reject("bad_signature", "not signed by the pinned control-plane key");
  }
  if (ruleSet.tenant_id !== context.tenantId || ruleSet.appliance_id !== context.applianceId) {
    return reject("wrong_audience", `addressed to ${ruleSet.tenant_id}/${ruleSet.appliance_id}`);
  }
  // TUF 5.3.5: a version below the trusted one is a rollback; the same version must be the
  // same document, or two different sets would both claim to be current.
  if (ruleSet.version < context.currentVersion) {
    return reject(
      "version_rollback",
      `version ${ruleSet.version} is below ${context.currentVersion} in force`,
    );
  }
  if (ruleSet.version === context.currentVersion) {
    if (hash === context.currentHash) return { ok: true, ruleSet, hash, changed: false };
    return reject("version_reused", `version ${ruleSet.version} is in force with other content`);
  }
  for (const rule of ruleSet.rules) {
    if (!context.runbooks.has(rule.runbook_id)) {
      return reject("unknown_runbook", `${rule.runbook_id} is not in the local allowlist`);
    }
    if (context.isDeclaredFinding && !context.isDeclaredFinding(rule.check_id, rule.finding)) {
      return reject(
        "unknown_finding",
        `${rule.check_id} does not report ${rule.finding} in the local catalog`,
      );
    }
  }
  return { ok: true, ruleSet, hash, changed: true };
}
