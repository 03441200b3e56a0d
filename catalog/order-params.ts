import { z } from "zod";
import type { OrderParams } from "#protocol";
import { unitAllowed } from "./baseline-schema.ts";
import type { Catalog } from "./lint-catalog.ts";
import { PARAM_KINDS } from "./param-kinds.ts";
import type { Runbook } from "./runbook-schema.ts";

/**
 * The schema an order's params must satisfy to run `runbook`: exactly the runbook's declared
 * params, each of its kind, and units only from the baseline's allowlist. The appliance applies
 * it before executing (protocol OrderContext.checkParams), the control plane before signing.
 */
export function runbookParamsSchema(runbook: Runbook, catalog: Pick<Catalog, "baseline">) {
  const shape = Object.fromEntries(
    (runbook.params ?? []).map((param) => {
      const schema: z.ZodType = PARAM_KINDS[param.kind].schema;
      return [
        param.name,
        param.kind === "unit"
          ? schema.refine((unit) => unitAllowed(catalog.baseline, String(unit)), {
              message: "is not an allowed unit of the baseline",
            })
          : schema,
      ];
    }),
  );
  return z.strictObject(shape);
}

/** Fits protocol's OrderContext.checkParams: a problem sentence, or null when the params are valid. */
export function checkOrderParams(
  catalog: Pick<Catalog, "baseline" | "runbooks">,
  runbookId: string,
  params: z.infer<typeof OrderParams>,
): string | null {
  const runbook = catalog.runbooks.find((r) => r.id === runbookId);
  if (runbook === undefined) return `runbook ${runbookId} is not in the catalog`;
  const result = runbookParamsSchema(runbook, catalog).safeParse(params);
  return result.success ? null : z.prettifyError(result.error);
}
