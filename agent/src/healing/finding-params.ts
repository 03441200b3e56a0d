import type { z } from "zod";
import { type Baseline, type Runbook, runbookParamsSchema } from "#catalog";
import type { Finding, OrderParams } from "#protocol";

/**
 * A runbook's params come from the finding's subject (the unit, the backup job), parsed with the
 * runbook's own schema, units against the baseline's allowed_units. A string is the problem.
 */
export function paramsFromFinding(
  runbook: Runbook,
  finding: Finding,
  baseline: Pick<Baseline, "allowed_units">,
): z.infer<typeof OrderParams> | string {
  const declared = runbook.params ?? [];
  if (declared.length === 0) return {};
  if (finding.subject === undefined) return "the finding names no subject";
  const raw = Object.fromEntries(declared.map((p) => [p.name, finding.subject as string]));
  const parsed = runbookParamsSchema(runbook, { baseline: baseline as Baseline }).safeParse(raw);
  return parsed.success
    ? (parsed.data as z.infer<typeof OrderParams>)
    : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
}
