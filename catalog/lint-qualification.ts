import type { CrossContext } from "./cross-context.ts";
import { isDeclaredFinding } from "./drift-checks.ts";
import type { QualificationSet } from "./qualification-schema.ts";
import type { Parsed } from "./read-files.ts";

/** Escalation cases a qualification set must hold at least, so a model that never escalates fails. */
export const MIN_ESCALATE_CASES = 5;

/**
 * The qualification set against the runbooks: every case names declared findings and existing
 * runbooks, an expected runbook is one L2 may order for that incident (tier and triggers), and
 * together the cases expect every L2 runbook trigger at least once and escalate often enough.
 */
export function lintQualification(ctx: CrossContext, set: Parsed<QualificationSet>): void {
  const { source, value } = set;
  const ids = new Set<string>();
  const covered = new Set<string>();
  let escalations = 0;
  value.cases.forEach((c, i) => {
    const path = ["cases", i];
    if (ids.has(c.id)) ctx.report(source, [...path, "id"], "duplicate_id", `${c.id} is used twice`);
    ids.add(c.id);
    c.incident.findings.forEach((f, j) => {
      if (!isDeclaredFinding(c.incident.check_id, f.code)) {
        const message = `${c.incident.check_id} declares no finding ${f.code}`;
        ctx.report(
          source,
          [...path, "incident", "findings", j, "code"],
          "dangling_finding",
          message,
        );
      }
    });
    const named = [
      ...(c.incident.local_l1 ? [c.incident.local_l1.runbook_id] : []),
      ...c.incident.previous_attempts.map((a) => a.runbook_id),
    ];
    for (const id of named) {
      if (!ctx.runbooks.has(id)) {
        ctx.report(source, [...path, "incident"], "dangling_runbook", `no runbook ${id}`);
      }
    }
    if (c.expect === "escalate") {
      escalations++;
      return;
    }
    const runbook = ctx.runbooks.get(c.expect)?.value;
    if (!runbook) {
      ctx.report(source, [...path, "expect"], "dangling_runbook", `no runbook ${c.expect}`);
      return;
    }
    const codes = new Set(c.incident.findings.map((f) => f.code));
    const triggers = runbook.triggers.filter(
      (t) => t.check === c.incident.check_id && t.findings.some((f) => codes.has(f)),
    );
    if (!runbook.tiers.includes("L2") || triggers.length === 0) {
      const message = `${c.expect} is not an L2 candidate for ${c.incident.check_id} ${[...codes].join(", ")}`;
      ctx.report(source, [...path, "expect"], "trigger_mismatch", message);
    }
    for (const t of triggers) {
      for (const f of t.findings) if (codes.has(f)) covered.add(`${runbook.id} ${t.check}/${f}`);
    }
  });
  for (const { value: runbook } of ctx.runbooks.values()) {
    if (!runbook.tiers.includes("L2")) continue;
    for (const t of runbook.triggers) {
      for (const f of t.findings) {
        if (covered.has(`${runbook.id} ${t.check}/${f}`)) continue;
        const message = `no case expects ${runbook.id} for ${t.check}/${f}`;
        ctx.report(source, ["cases"], "qualification_coverage", message, "add a case for it");
      }
    }
  }
  if (escalations < MIN_ESCALATE_CASES) {
    const message = `${escalations} cases expect escalate; at least ${MIN_ESCALATE_CASES} must`;
    ctx.report(source, ["cases"], "qualification_coverage", message);
  }
}
