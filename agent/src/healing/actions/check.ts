import type { DriftCheckId } from "#catalog";
import type { ActionContext, ActionParams, StepResult } from "./context.ts";

/**
 * check.finding_absent / finding_present / passes: run the drift check on demand. A check that
 * could not look (skipped or error) never counts as proof that a finding is absent.
 */
async function observe(params: ActionParams, ctx: ActionContext) {
  const result = await ctx.checks.runOne(params.check as DriftCheckId, ctx.signal);
  const seen = result.status === "pass" || result.status === "drift";
  const matching = result.findings.filter((f) => f.code === params.finding);
  return { result, seen, matching };
}

export async function findingAbsent(params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  const { result, seen, matching } = await observe(params, ctx);
  if (!seen) return { ok: false, detail: `${params.check} check ${result.status}: cannot tell` };
  return matching.length === 0
    ? { ok: true }
    : { ok: false, detail: `${params.check} still reports ${params.finding}`, findings: matching };
}

export async function findingPresent(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const { result, seen, matching } = await observe(params, ctx);
  if (!seen) return { ok: false, detail: `${params.check} check ${result.status}: cannot tell` };
  return matching.length > 0
    ? { ok: true, findings: matching }
    : { ok: false, detail: `${params.check} no longer reports ${params.finding}` };
}

export async function checkPasses(params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  const result = await ctx.checks.runOne(params.check as DriftCheckId, ctx.signal);
  return result.status === "pass"
    ? { ok: true }
    : {
        ok: false,
        detail: `${params.check} check is ${result.status}`,
        findings: result.findings.slice(0, 64),
      };
}
