import type { Runbook } from "#catalog";
import { inMaintenanceWindow } from "#catalog";
import type { AgentSettings } from "#protocol";
import type { HealingPolicy } from "../config.ts";

/**
 * The healing policy in effect: the local config (written by the NixOS module) and the site's
 * signed settings from enrollment. Each can only restrict the other: audit in either is audit,
 * and the audit-only checks are the union of both lists.
 */
export interface EffectivePolicy {
  /** True when the whole appliance is audit-only (config or site). */
  readonly audit: boolean;
  auditOnly(check: string): boolean;
  /** Why a runbook may not act now under audit rules, or null. */
  auditBlocks(runbook: Runbook): string | null;
  inWindow(now: Date): boolean;
}

export function effectivePolicy(
  local: HealingPolicy,
  site: AgentSettings["healing"] | undefined,
): EffectivePolicy {
  const siteAudit = site?.mode === "audit";
  const audit = local.mode === "audit" || siteAudit;
  const checks = new Set<string>([...local.audit_only_checks, ...(site?.audit_only_checks ?? [])]);
  const auditOnly = (check: string) => audit || checks.has(check);
  return {
    audit,
    auditOnly,
    auditBlocks(runbook) {
      if (audit) return `audit-only mode (${siteAudit ? "site setting" : "local config"})`;
      const blocked = runbook.triggers.map((t) => t.check).filter((c) => checks.has(c));
      return blocked.length > 0 ? `audit-only check: ${[...new Set(blocked)].join(", ")}` : null;
    },
    inWindow: (now) => inMaintenanceWindow(local.maintenance_window, now),
  };
}
