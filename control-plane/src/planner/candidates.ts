import type { z } from "zod";
import { type Catalog, runbookParamsSchema } from "#catalog";
import type { Incident, OrderParams, Runbook, Tier } from "./types.ts";

/**
 * Which runbooks may answer an incident, and with which parameters. Both come only from the
 * catalog and the incident: the model never supplies either.
 */
export function matchingRunbooks(
  catalog: Pick<Catalog, "runbooks">,
  incident: Incident,
  tier: Tier,
): Runbook[] {
  const codes = new Set(incident.findings.map((f) => f.code));
  return catalog.runbooks.filter(
    (r) =>
      r.tiers.includes(tier) &&
      r.triggers.some((t) => t.check === incident.check_id && t.findings.some((f) => codes.has(f))),
  );
}

/**
 * What L2 may offer for an incident, the one rule for the live planner and `planner qualify`:
 * the matching L2 runbooks, minus the one the appliance's own L1 just ran for it and failed (the
 * agent would refuse it, its own back-off, burning an attempt and failing the pattern).
 */
export function l2Candidates(
  catalog: Pick<Catalog, "runbooks">,
  incident: Incident,
): { candidates: Runbook[]; failedLocally: string | undefined } {
  const failedLocally = incident.local_l1.attempted ? incident.local_l1.runbook_id : undefined;
  return {
    candidates: matchingRunbooks(catalog, incident, "L2").filter((r) => r.id !== failedLocally),
    failedLocally,
  };
}

/** The incident's first finding that triggers `runbook`: it names the pattern and the params. */
export function triggeringFinding(runbook: Runbook, incident: Incident) {
  return incident.findings.find((f) =>
    runbook.triggers.some((t) => t.check === incident.check_id && t.findings.includes(f.code)),
  );
}

/** A flywheel pattern: what an L1 rule can express (check id and finding kind). */
export function patternKey(checkId: string, finding: string): string {
  return `${checkId}/${finding}`;
}

/**
 * Parameters of `runbook` for this incident: each declared parameter is the subject of the
 * triggering finding (a unit, a backup job), checked against the runbook's own schema and the
 * baseline's allowed units. A problem sentence when they do not validate.
 */
export function deriveParams(
  catalog: Pick<Catalog, "baseline">,
  runbook: Runbook,
  incident: Incident,
): { ok: true; params: z.infer<typeof OrderParams> } | { ok: false; problem: string } {
  const finding = triggeringFinding(runbook, incident);
  const raw: Record<string, unknown> = {};
  for (const param of runbook.params ?? []) raw[param.name] = finding?.subject;
  const parsed = runbookParamsSchema(runbook, catalog).safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      ok: false,
      problem: `${first?.path.join(".") || "params"}: ${first?.message ?? "invalid"}`.slice(0, 280),
    };
  }
  return { ok: true, params: parsed.data as z.infer<typeof OrderParams> };
}
