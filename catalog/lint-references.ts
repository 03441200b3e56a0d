import type { CrossContext } from "./cross-context.ts";
import {
  DRIFT_CHECK_IDS,
  DRIFT_CHECKS,
  type DriftCheckId,
  isDeclaredFinding,
  isDriftCheckId,
} from "./drift-checks.ts";
import type { Path, Source } from "./source.ts";

const CHECK_HINT = `drift checks are ${DRIFT_CHECK_IDS.join(", ")}`;

export function reportUnknownCheck(ctx: CrossContext, source: Source, path: Path, check: string) {
  ctx.report(source, path, "dangling_check", `unknown drift check "${check}"`, CHECK_HINT);
}

export function reportUnknownFinding(
  ctx: CrossContext,
  source: Source,
  path: Path,
  check: DriftCheckId,
  finding: string,
) {
  const message = `check ${check} has no finding "${finding}"`;
  const hint = `${check} reports ${DRIFT_CHECKS[check].findings.join(", ")}`;
  ctx.report(source, path, "dangling_finding", message, hint);
}

/** A check id and the finding kinds named with it (toggle check, runbook trigger) must exist. */
function checkFindings(
  ctx: CrossContext,
  source: Source,
  checkPath: Path,
  check: string,
  findings: readonly { finding: string; path: Path }[],
): void {
  if (!isDriftCheckId(check)) {
    reportUnknownCheck(ctx, source, checkPath, check);
    return;
  }
  for (const { finding, path } of findings) {
    if (!isDeclaredFinding(check, finding)) reportUnknownFinding(ctx, source, path, check, finding);
  }
}

/**
 * Each citation names a row of the controls map, and not one the map calls out of scope
 * (claiming coverage there would contradict the map). Returns the rows cited.
 */
function citedRows(ctx: CrossContext, source: Source, path: Path, cited: readonly string[]) {
  return cited.flatMap((citation, index) => {
    const entry = ctx.rows.get(citation);
    if (entry === undefined) {
      const message = `${citation} is not a standard or implementation specification in the controls map`;
      const hint = "cite a row of baseline/controls-map.csv, or add the row with its coverage";
      ctx.report(source, [...path, index], "unmapped_citation", message, hint);
      return [];
    }
    if (entry.row.coverage === "out_of_scope") {
      const message = `${citation} is out_of_scope in the controls map, so nothing can claim to cover it`;
      const hint = "mark the row partial and say why";
      ctx.report(source, [...path, index], "out_of_scope_citation", message, hint);
      return [];
    }
    return [entry.row];
  });
}

export function lintToggles(ctx: CrossContext): void {
  const source = ctx.baseline.source;
  for (const { toggle, path } of ctx.toggles.values()) {
    checkFindings(ctx, source, [...path, "check", "id"], toggle.check.id, [
      { finding: toggle.check.finding, path: [...path, "check", "finding"] },
    ]);

    const runbookId = toggle.remediation.runbook;
    if (runbookId !== undefined && !ctx.runbooks.has(runbookId)) {
      const message = `toggle ${toggle.id} is healed by ${runbookId}, which does not exist`;
      const hint = "add runbooks/<id>.yaml or fix the id";
      ctx.report(source, [...path, "remediation", "runbook"], "dangling_runbook", message, hint);
    }

    const rows = citedRows(ctx, source, [...path, "citations"], toggle.citations);
    if (rows.length === toggle.citations.length) {
      const strongest = rows.some((row) => row.requirement === "required")
        ? "required"
        : "addressable";
      if (toggle.requirement !== strongest) {
        const message = `is ${toggle.requirement}, but its citations make it ${strongest}`;
        const hint =
          "required when any cited standard or specification is required (Appendix A to Subpart C)";
        ctx.report(source, [...path, "requirement"], "requirement_mismatch", message, hint);
      }
    }
  }
}

/**
 * Phase three: the runbook a toggle names must be one its drift actually triggers, or the
 * agent would never run it for that toggle. Checked once every id resolves, so a typo in a
 * check id is reported once, not again as a mismatch.
 */
export function lintToggleTriggers(ctx: CrossContext): void {
  for (const { toggle, path } of ctx.toggles.values()) {
    const runbookId = toggle.remediation.runbook;
    const runbook = runbookId === undefined ? undefined : ctx.runbooks.get(runbookId)?.value;
    const { id: check, finding } = toggle.check;
    const triggered = runbook?.triggers.some(
      (t) => t.check === check && t.findings.includes(finding),
    );
    if (runbook === undefined || triggered) continue;
    const message = `${runbook.id} is not triggered by ${check}/${finding}, the drift of toggle ${toggle.id}`;
    const hint = "add the finding to the runbook's triggers, or name the runbook that handles it";
    ctx.report(
      ctx.baseline.source,
      [...path, "remediation", "runbook"],
      "trigger_mismatch",
      message,
      hint,
    );
  }
}

export function lintRunbookReferences(ctx: CrossContext): void {
  for (const { source, value: runbook } of ctx.runbooks.values()) {
    runbook.triggers.forEach((trigger, t) => {
      const findings = trigger.findings.map((finding, f) => ({
        finding,
        path: ["triggers", t, "findings", f],
      }));
      checkFindings(ctx, source, ["triggers", t, "check"], trigger.check, findings);
    });
    citedRows(ctx, source, ["citations"], runbook.citations);
  }
}

/** `today` is a calendar date (UTC); an exception holds through its expires_on day. */
export function lintExceptions(ctx: CrossContext, today: string | undefined): void {
  for (const { source, value: file } of ctx.exceptionFiles) {
    if (file.baseline !== ctx.baseline.value.id) {
      const message = `was approved against ${file.baseline}, the catalog's baseline is ${ctx.baseline.value.id}`;
      const hint = "review each exception against the new baseline";
      ctx.report(source, ["baseline"], "baseline_mismatch", message, hint);
    }
    const seen = new Set<string>();
    file.exceptions.forEach((exception, index) => {
      const path = ["exceptions", index];
      if (!ctx.toggles.has(exception.toggle)) {
        const message = `toggle ${exception.toggle} does not exist in ${ctx.baseline.value.id}`;
        ctx.report(source, [...path, "toggle"], "dangling_toggle", message);
      } else if (seen.has(exception.toggle)) {
        const message = `toggle ${exception.toggle} already has an exception in this file`;
        ctx.report(
          source,
          [...path, "toggle"],
          "duplicate_id",
          message,
          "keep one exception per toggle",
        );
      }
      seen.add(exception.toggle);
      if (today !== undefined && exception.expires_on < today) {
        const message = `the exception for ${exception.toggle} expired on ${exception.expires_on} (today is ${today}): an expired exception is a finding, not a pass`;
        const hint =
          "renew it with a fresh approval and expiry, or remove it so the toggle is enforced";
        ctx.report(source, [...path, "expires_on"], "expired_exception", message, hint);
      }
    });
  }
}
