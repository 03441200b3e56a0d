import type { CheckFinding, DriftCheck } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import { firstLine, runTool } from "../support.ts";
import {
  type CanonicalRuleset,
  canonicalRuleset,
  diffRulesets,
  objectIdentity,
  type RulesetChange,
} from "./canonical.ts";

const MAX_RULESET_BYTES = 4 * 1024 * 1024;
/** Findings beyond this are summarised in the last one (evidence holds at most 64). */
const MAX_NAMED_CHANGES = 40;

const INBOUND_HOOKS = new Set(["input", "forward", "prerouting", "ingress"]);

type Code = CheckFinding<"firewall">["code"];

/** Which way a changed chain faces: by its hook, in the live ruleset or else the baseline. */
function direction(chain: string, live: CanonicalRuleset, base: CanonicalRuleset): Code {
  const hook = live.hooks[chain] ?? base.hooks[chain];
  return hook !== undefined && !INBOUND_HOOKS.has(hook)
    ? "egress_policy_drift"
    : "inbound_policy_drift";
}

/**
 * An inbound rule that accepts TCP port 22 without matching a source address or interface:
 * SSH is open beyond the management network. Walks the rule's statements (nftables JSON
 * "match" with a "payload" left side).
 */
export function opensSsh(ruleText: string): boolean {
  const { expr = [] } = JSON.parse(ruleText) as { expr?: Record<string, unknown>[] };
  let port22 = false;
  let limited = false;
  let accepts = false;
  for (const statement of expr) {
    if ("accept" in statement) accepts = true;
    const match = statement.match as
      | { left?: Record<string, unknown>; right?: unknown }
      | undefined;
    if (!match?.left) continue;
    const payload = match.left.payload as { protocol?: string; field?: string } | undefined;
    const meta = match.left.meta as { key?: string } | undefined;
    if (payload?.field === "saddr" || meta?.key === "iifname" || meta?.key === "iif")
      limited = true;
    if (payload?.protocol === "tcp" && payload.field === "dport" && includes22(match.right))
      port22 = true;
  }
  return accepts && port22 && !limited;
}

function includes22(right: unknown): boolean {
  if (right === 22 || right === "ssh") return true;
  if (Array.isArray(right)) return right.some(includes22);
  if (typeof right !== "object" || right === null) return false;
  const r = right as { set?: unknown; range?: unknown };
  if (r.set !== undefined) return includes22(r.set);
  if (Array.isArray(r.range)) {
    const [lo, hi] = r.range as number[];
    return typeof lo === "number" && typeof hi === "number" && lo <= 22 && 22 <= hi;
  }
  return false;
}

export const firewall = {
  id: "firewall",
  title: "The loaded nftables ruleset is the baseline ruleset",
  citations: ["45 CFR 164.312(a)(1)", "45 CFR 164.312(e)(1)"],
  severity: "high",
  findings: ["egress_policy_drift", "inbound_policy_drift", "ssh_exposed"],
  async run(host, context) {
    if (!context.baseline) return skipped("no baseline: the agent has no catalog_dir");
    const path = context.expected.firewall_ruleset_path;
    if (!path)
      return skipped(
        "config host.firewall_ruleset_path is not set: no baseline ruleset to compare",
      );
    const baseText = await host.readFile(path, MAX_RULESET_BYTES);
    if (baseText === undefined) return failed(`the baseline ruleset ${path} does not exist`);
    let base: CanonicalRuleset | undefined;
    try {
      base = canonicalRuleset(JSON.parse(baseText));
    } catch {
      base = undefined;
    }
    if (!base) return failed(`the baseline ruleset ${path} is not nft -j JSON`);

    const run = await runTool(host, context, ["nft", "-j", "list", "ruleset"], MAX_RULESET_BYTES);
    if (!run.ok) return failed(run.reason);
    if (run.code !== 0)
      return failed(`nft -j list ruleset exited ${run.code}: ${firstLine(run.stderr)}`);
    let live: CanonicalRuleset | undefined;
    try {
      live = canonicalRuleset(JSON.parse(run.stdout));
    } catch {
      live = undefined;
    }
    if (!live) return failed("nft -j list ruleset printed something that is not its JSON");
    const state = {
      ruleset_sha256: live.sha256,
      baseline_sha256: base.sha256,
      rules: Object.values(live.rules).reduce((n, r) => n + r.length, 0),
    };
    if (live.sha256 === base.sha256) return verdict([], state);

    const changes = diffRulesets(base, live);
    const findings: CheckFinding<"firewall">[] = changes
      .slice(0, MAX_NAMED_CHANGES)
      .map((c) => finding(c, live, base));
    if (changes.length > MAX_NAMED_CHANGES) {
      findings.push({
        code: "inbound_policy_drift",
        subject: "ruleset",
        expected: base.sha256,
        observed: live.sha256,
        message: `${changes.length - MAX_NAMED_CHANGES} more changes not named here`,
      });
    }
    if (findings.length === 0) {
      // Hashes differ but no object or rule does: cannot happen unless the canonical form is broken.
      return failed("the ruleset hash differs but no difference could be named");
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"firewall">;

function finding(
  c: RulesetChange,
  live: CanonicalRuleset,
  base: CanonicalRuleset,
): CheckFinding<"firewall"> {
  if (c.kind === "object") {
    const subject = objectIdentity(c.after ?? c.before ?? "");
    const [kind, family, table, name] = subject.split(" ");
    const code =
      kind === "chain"
        ? direction(`${family} ${table} ${name}`, live, base)
        : "inbound_policy_drift";
    return {
      code,
      subject,
      expected: c.before ?? "absent",
      observed: c.after ?? "absent",
      message:
        c.before && c.after
          ? `${subject} differs from the baseline`
          : c.after
            ? `${subject} is not in the baseline`
            : `${subject} of the baseline is missing`,
    };
  }
  const { rule } = c;
  const subject = `rule ${rule.chain} #${rule.index + 1}`;
  const code: Code =
    c.kind === "rule_added" &&
    direction(rule.chain, live, base) === "inbound_policy_drift" &&
    opensSsh(rule.text)
      ? "ssh_exposed"
      : direction(rule.chain, live, base);
  if (c.kind === "rule_added")
    return {
      code,
      subject,
      expected: "absent",
      observed: rule.text,
      message: "rule not in the baseline",
    };
  if (c.kind === "rule_removed")
    return {
      code,
      subject,
      expected: rule.text,
      observed: "absent",
      message: "baseline rule missing",
    };
  return {
    code,
    subject,
    expected: "baseline order",
    observed: rule.text,
    message: "rule in another place than in the baseline",
  };
}
