/**
 * catalog/: the validated baseline and runbook catalog. The single source of truth for what the
 * appliance checks (baseline toggles and the six drift checks), why (HIPAA Security Rule
 * citations and the controls map), how drift is healed (runbooks made of allowlisted typed
 * actions) and which deviations a client accepted (exceptions). Imports only #protocol, zod,
 * yaml and node: built-ins.
 */
export {
  ACTION_NAMES,
  ACTIONS,
  type ActionEffect,
  type ActionName,
  type ActionSpec,
  actionParamsSchema,
  isActionName,
} from "./actions.ts";
export {
  AREA_IDS,
  type AreaId,
  type AreaToggle,
  allToggles,
  Baseline,
  Toggle,
  unitAllowed,
} from "./baseline-schema.ts";
export {
  CITATION_PATTERN,
  Citation,
  parseCitation,
  type Safeguard,
  safeguardOf,
} from "./citation.ts";
export {
  CONTROLS_MAP_COLUMNS,
  ControlsMapRow,
  Coverage,
} from "./controls-map.ts";
export {
  DRIFT_CHECK_IDS,
  DRIFT_CHECKS,
  type DriftCheckId,
  isDeclaredFinding,
  isDriftCheckId,
} from "./drift-checks.ts";
export { durationMs } from "./duration.ts";
export {
  CatalogError,
  type CatalogErrorCode,
  formatProblem,
  PROBLEM_CODES,
  type Problem,
  type ProblemCode,
} from "./errors.ts";
export { EVIDENCE_TYPES, EvidenceType } from "./evidence-types.ts";
export { type ExceptionStatus, evaluateExceptions } from "./exceptions.ts";
export { ClientException, ClientExceptions } from "./exceptions-schema.ts";
export { buildJsonSchemas, JSON_SCHEMA_DIR } from "./json-schema.ts";
export {
  type Catalog,
  type CatalogSummary,
  type LintOptions,
  type LintResult,
  lintCatalog,
  loadCatalog,
  summarizeCatalog,
  todayUtc,
} from "./lint-catalog.ts";
export { MIN_ESCALATE_CASES } from "./lint-qualification.ts";
export { inMaintenanceWindow, MaintenanceWindow } from "./maintenance-window.ts";
export { checkOrderParams, runbookParamsSchema } from "./order-params.ts";
export { PARAM_KINDS, ParamKind, SystemdUnitName } from "./param-kinds.ts";
export { QualificationCase, QualificationSet } from "./qualification-schema.ts";
export { CATALOG_PATHS } from "./read-files.ts";
export {
  isParamRef,
  ParamRef,
  Runbook,
  STEP_PHASES,
  Step,
  type StepPhase,
} from "./runbook-schema.ts";
