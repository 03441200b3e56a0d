import { z } from "zod";
import { MaintenanceWindow } from "#catalog";
import { RunbookId } from "#protocol";

/**
 * One site's (tenant's) guardrail settings. Strict: an unknown key is refused with its path.
 * Defaults are conservative; an operator loosens them per site through the admin API.
 */
export const SitePolicy = z.strictObject({
  /** Runbooks automated tiers may order at this site; null: every catalog runbook. */
  runbook_allowlist: z.array(RunbookId).max(64).nullable().default(null),
  /** L2 choices below this confidence go to a human. */
  min_confidence: z.number().min(0).max(1).default(0.7),
  /** Cooldown per appliance and runbook, seconds; null: the runbook's own cooldown. */
  cooldown_s: z
    .int()
    .min(0)
    .max(30 * 86_400)
    .nullable()
    .default(null),
  /** Orders per incident, the appliance's own failed L1 attempt included. */
  max_attempts_per_incident: z.int().min(1).max(10).default(2),
  /** Automatic (L1/L2) orders per site per rolling hour. */
  max_orders_per_hour: z.int().min(0).max(10_000).default(10),
  /** Without a window, disruptive runbooks are never ordered automatically. */
  maintenance_window: MaintenanceWindow.nullable().default(null),
  /** Decide and record, but order nothing: every decision goes to the operator queue. */
  audit_only: z.boolean().default(false),
  /** Whether the L2 planner is consulted at all for this site. */
  l2_enabled: z.boolean().default(true),
});
export type SitePolicy = z.infer<typeof SitePolicy>;

export const DEFAULT_SITE_POLICY: SitePolicy = SitePolicy.parse({});

export { inMaintenanceWindow, MaintenanceWindow } from "#catalog";
