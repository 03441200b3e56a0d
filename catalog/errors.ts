import { CodedError } from "#protocol";

/**
 * What the catalog lint can find wrong. Problems are results, not exceptions: the lint collects
 * every one of them so an author fixes a file in one pass. The codes are a closed union because
 * tests, CI annotations and the docs all key on them.
 */
export const PROBLEM_CODES = [
  "unreadable",
  "yaml_syntax",
  "csv_syntax",
  "schema",
  "bad_citation",
  "unmapped_citation",
  "out_of_scope_citation",
  "requirement_mismatch",
  "duplicate_id",
  "filename_mismatch",
  "dangling_check",
  "dangling_finding",
  "dangling_runbook",
  "dangling_toggle",
  "baseline_mismatch",
  "trigger_mismatch",
  "unknown_action",
  "invalid_action_params",
  "shell_string",
  "wrong_phase",
  "disruptive_mismatch",
  "param_ref",
  "unit_not_allowed",
  "controls_map_mismatch",
  "expired_exception",
  "qualification_coverage",
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface Problem {
  readonly code: ProblemCode;
  /** Relative to the catalog root, with forward slashes: `runbooks/RB-DISK-001-full.yaml`. */
  readonly file: string;
  /** 1-based; 0 when the problem concerns the file as a whole. */
  readonly line: number;
  readonly column: number;
  /** Where in the file: `areas[0].toggles[3].check.id`, or a CSV column name. */
  readonly field: string;
  readonly message: string;
  readonly hint?: string;
}

/** `file:line:column field: message (hint)`, the shape editors and CI annotations understand. */
export function formatProblem(problem: Problem): string {
  const where = `${problem.file}:${problem.line}:${problem.column}`;
  const field = problem.field === "" ? "" : ` ${problem.field}:`;
  const hint = problem.hint === undefined ? "" : ` (${problem.hint})`;
  return `${where}${field} ${problem.message}${hint}`;
}

/** Closed on purpose: unreadable or inconsistent files are problems inside an invalid_catalog. */
export type CatalogErrorCode = "invalid_catalog";

/**
 * The one error class of the catalog area. The loader fails closed: a catalog with any problem
 * is never handed out half-loaded; the problems travel with the error.
 */
export class CatalogError extends CodedError<CatalogErrorCode> {
  override readonly name = "CatalogError";
  readonly problems: readonly Problem[];

  constructor(
    code: CatalogErrorCode,
    message: string,
    options?: { cause?: unknown; problems?: readonly Problem[] },
  ) {
    super(code, message, options);
    this.problems = options?.problems ?? [];
  }
}
