import { type Catalog, checkOrderParams, loadCatalog } from "#catalog";
import type { RunbookAllowlist } from "./ports.ts";

/**
 * The appliance's local runbook allowlist: exactly the runbooks of the catalog it ships with,
 * each order's params checked against that runbook's own schema (and the baseline's allowed
 * units). The catalog fails closed: a broken catalog stops the agent rather than widening it.
 */
export function catalogAllowlist(
  catalog: Pick<Catalog, "baseline" | "runbooks">,
): RunbookAllowlist {
  const ids = new Set(catalog.runbooks.map((r) => r.id));
  return {
    has: (runbookId) => ids.has(runbookId),
    checkParams: (runbookId, params) => checkOrderParams(catalog, runbookId, params),
  };
}

export async function loadRunbookAllowlist(
  catalogDir: string | undefined,
): Promise<RunbookAllowlist> {
  if (catalogDir === undefined) return { has: () => false };
  return catalogAllowlist(await loadCatalog(catalogDir));
}
