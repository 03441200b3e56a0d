import { type AreaToggle, allToggles, type Baseline } from "./baseline-schema.ts";
import type { ControlsMapRow, Coverage } from "./controls-map.ts";
import { crossContext } from "./cross-context.ts";
import { CatalogError, formatProblem, type Problem } from "./errors.ts";
import type { ClientExceptions } from "./exceptions-schema.ts";
import { lintControlsMapDerived, lintControlsMapReferences } from "./lint-controls-map.ts";
import { lintQualification } from "./lint-qualification.ts";
import {
  lintExceptions,
  lintRunbookReferences,
  lintToggles,
  lintToggleTriggers,
} from "./lint-references.ts";
import { lintRunbookSteps } from "./lint-steps.ts";
import type { QualificationSet } from "./qualification-schema.ts";
import { readCatalogFiles } from "./read-files.ts";
import type { Runbook } from "./runbook-schema.ts";

/** The validated baseline, controls map, runbooks and client exceptions, all cross-checked. */
export interface Catalog {
  readonly baseline: Baseline;
  readonly toggles: readonly AreaToggle[];
  readonly controlsMap: readonly ControlsMapRow[];
  /** Sorted by id. */
  readonly runbooks: readonly Runbook[];
  readonly exceptions: readonly ClientExceptions[];
  /** The labelled incidents for model qualification, when the catalog ships them. */
  readonly qualification?: QualificationSet;
}

export interface LintOptions {
  /** Calendar date (YYYY-MM-DD, UTC) against which exceptions expire; defaults to today. */
  readonly today?: string;
}

export interface LintResult {
  /** Present only when there is no problem at all: nothing half-checked is handed out. */
  readonly catalog: Catalog | undefined;
  readonly problems: readonly Problem[];
}

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * Three phases, each only on a clean result of the one before, so a broken file yields its own
 * problem rather than a cascade of echoes: (1) each file's syntax and schema, (2) references
 * between files, (3) consistency once every reference resolves: a toggle's drift triggers its
 * runbook, and the controls map's derived columns match the YAML.
 */
async function check(root: string, today: string | undefined): Promise<LintResult> {
  const files = await readCatalogFiles(root);
  if (files.problems.length > 0 || !files.baseline || !files.controlsMap) {
    return { catalog: undefined, problems: sorted(files.problems) };
  }
  const ctx = crossContext(files.baseline, files.controlsMap, files.runbooks, files.exceptions);
  lintToggles(ctx);
  lintRunbookReferences(ctx);
  lintRunbookSteps(ctx);
  if (files.qualification) lintQualification(ctx, files.qualification);
  lintExceptions(ctx, today);
  lintControlsMapReferences(ctx);
  if (ctx.problems.length === 0) {
    lintToggleTriggers(ctx);
    lintControlsMapDerived(ctx);
  }
  if (ctx.problems.length > 0) return { catalog: undefined, problems: sorted(ctx.problems) };

  const catalog: Catalog = {
    baseline: files.baseline.value,
    toggles: allToggles(files.baseline.value),
    controlsMap: files.controlsMap.value,
    runbooks: files.runbooks.map((r) => r.value).sort((a, b) => a.id.localeCompare(b.id)),
    exceptions: files.exceptions.map((e) => e.value),
    ...(files.qualification ? { qualification: files.qualification.value } : {}),
  };
  return { catalog, problems: [] };
}

/** The lint: every problem, including exceptions that expired before `today`. */
export function lintCatalog(root: string, options: LintOptions = {}): Promise<LintResult> {
  return check(root, options.today ?? todayUtc());
}

/**
 * The loader for the agent, the control plane and the packets. It fails closed on any problem,
 * except that an exception expiring does not make the catalog unusable: at run time an expired
 * exception is a finding (see evaluateExceptions), not a reason to stop checking the clinic.
 */
export async function loadCatalog(root: string): Promise<Catalog> {
  const { catalog, problems } = await check(root, undefined);
  if (catalog === undefined) {
    const list = problems.map(formatProblem).join("\n");
    throw new CatalogError("invalid_catalog", `the catalog at ${root} is invalid:\n${list}`, {
      problems,
    });
  }
  return catalog;
}

export interface CatalogSummary {
  readonly toggles: number;
  readonly runbooks: number;
  readonly controlsMapRows: number;
  readonly coverage: Readonly<Record<Coverage, number>>;
  readonly exceptionFiles: number;
}

export function summarizeCatalog(catalog: Catalog): CatalogSummary {
  const coverage: Record<Coverage, number> = { covered: 0, partial: 0, out_of_scope: 0 };
  for (const row of catalog.controlsMap) coverage[row.coverage] += 1;
  return {
    toggles: catalog.toggles.length,
    runbooks: catalog.runbooks.length,
    controlsMapRows: catalog.controlsMap.length,
    coverage,
    exceptionFiles: catalog.exceptions.length,
  };
}

function sorted(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column,
  );
}
