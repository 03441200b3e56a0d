import { z } from "zod";
import { CheckId, RunbookId, Severity } from "#protocol";
import { Citation } from "./citation.ts";
import { SystemdUnitName } from "./param-kinds.ts";
import {
  FindingKind,
  NixOptionPath,
  Requirement,
  Text,
  ToggleId,
  uniqueArray,
} from "./shared-schemas.ts";

/** The ten areas of the baseline, in the order the file and the packets present them. */
export const AREA_IDS = [
  "ssh",
  "accounts",
  "crypto",
  "logging",
  "patching",
  "firewall",
  "encryption",
  "backup",
  "time",
  "services",
] as const;
export type AreaId = (typeof AREA_IDS)[number];

export const ToggleValue = z.union([
  z.string().max(200),
  z.number(),
  z.boolean(),
  z.array(z.string().max(200)).min(1).max(32),
]);

/**
 * How drift of a toggle is healed: by a runbook, or deliberately not at all. An alert-only
 * toggle says why a machine must not fix it (encryption, accounts, anything needing judgment).
 */
export const Remediation = z
  .strictObject({
    runbook: RunbookId.optional(),
    alert_only: Text(10, 300).optional(),
  })
  .refine((r) => (r.runbook === undefined) !== (r.alert_only === undefined), {
    message: "give exactly one of runbook (the id that heals it) or alert_only (why nothing may)",
  });

export const Toggle = z.strictObject({
  id: ToggleId,
  title: Text(3, 120),
  /** What the toggle enforces and why it matters, in a sentence or two. */
  enforces: Text(10, 600),
  value: ToggleValue,
  citations: uniqueArray(Citation).min(1),
  requirement: Requirement,
  severity: Severity,
  /** Empty when the agent or the control plane enforces the value, not a NixOS option. */
  nixos_options: uniqueArray(NixOptionPath),
  check: z.strictObject({ id: CheckId, finding: FindingKind }),
  remediation: Remediation,
});
export type Toggle = z.infer<typeof Toggle>;

/** `restic-backups-*.service`: one `*` stands for a name of letters, digits and hyphens. */
export const UnitPattern = z.strictObject({
  pattern: z
    .string()
    .max(128)
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9_.@*-]*\.(?:service|socket|timer|target|path|mount)$/,
      "use a unit name, optionally with one *",
    )
    .refine((p) => p.split("*").length <= 2, { message: "use at most one *" }),
  reason: Text(10, 300),
});

export const Area = z.strictObject({
  id: z.enum(AREA_IDS),
  title: Text(3, 80),
  toggles: z.array(Toggle).min(1),
});

export const Baseline = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9]*-v[1-9][0-9]*$/, "use <name>-v<N>, for example hipaa-v1"),
  version: z.int().min(1),
  title: Text(3, 120),
  description: Text(10, 2000),
  /** The only systemd units a runbook may name; the agent checks order params against it too. */
  allowed_units: z.array(UnitPattern).min(1),
  areas: z.array(Area).min(1),
});
export type Baseline = z.infer<typeof Baseline>;

export interface AreaToggle extends Toggle {
  readonly area: AreaId;
}

export function allToggles(baseline: Baseline): AreaToggle[] {
  return baseline.areas.flatMap((area) => area.toggles.map((t) => ({ ...t, area: area.id })));
}

function patternRegex(pattern: string): RegExp {
  const [head = "", tail] = pattern.split("*").map((part) => part.replace(/[.]/g, "\\."));
  return new RegExp(tail === undefined ? `^${head}$` : `^${head}[a-z0-9-]+${tail}$`);
}

/** Whether the baseline allows runbooks to name this unit. */
export function unitAllowed(baseline: Pick<Baseline, "allowed_units">, unit: string): boolean {
  return (
    SystemdUnitName.safeParse(unit).success &&
    baseline.allowed_units.some((allowed) => patternRegex(allowed.pattern).test(unit))
  );
}
