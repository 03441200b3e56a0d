import { ACTION_NAMES, ACTIONS, type ActionSpec, isActionName } from "./actions.ts";
import { unitAllowed } from "./baseline-schema.ts";
import type { CrossContext } from "./cross-context.ts";
import { isDeclaredFinding, isDriftCheckId } from "./drift-checks.ts";
import { reportUnknownCheck, reportUnknownFinding } from "./lint-references.ts";
import { PARAM_KINDS } from "./param-kinds.ts";
import type { Parsed } from "./read-files.ts";
import {
  isParamRef,
  type ParamValue,
  type Runbook,
  STEP_PHASES,
  type Step,
  type StepPhase,
} from "./runbook-schema.ts";
import { SHELL_HINT, SHELL_KEYS, shellStringReason } from "./shell.ts";
import type { Path, Source } from "./source.ts";

/** Preconditions and verification decide; they must not change the host they judge. */
const READ_ONLY_PHASES: ReadonlySet<StepPhase> = new Set(["preconditions", "verification"]);

/** One runbook's steps, with the runbook's declared params and which of them steps use. */
interface RunbookScope {
  readonly ctx: CrossContext;
  readonly source: Source;
  readonly runbook: Runbook;
  readonly declared: ReadonlyMap<string, number>;
  readonly used: Set<string>;
}

export function lintRunbookSteps(ctx: CrossContext): void {
  for (const runbook of ctx.runbooks.values()) lintRunbook(ctx, runbook);
}

function lintRunbook(ctx: CrossContext, { source, value: runbook }: Parsed<Runbook>): void {
  const declared = new Map<string, number>();
  (runbook.params ?? []).forEach((param, index) => {
    if (!declared.has(param.name)) declared.set(param.name, index);
    else {
      const message = `param ${param.name} is declared twice`;
      ctx.report(source, ["params", index, "name"], "duplicate_id", message);
    }
  });
  const scope: RunbookScope = { ctx, source, runbook, declared, used: new Set() };

  const disruptive = new Set<string>();
  for (const phase of STEP_PHASES) {
    runbook[phase].forEach((step, index) => {
      const spec = lintStep(scope, phase, [phase, index], step);
      if (spec?.disruptive) disruptive.add(step.action);
    });
  }

  if (disruptive.size > 0 && !runbook.disruptive) {
    const message = `uses ${[...disruptive].join(", ")}, which may interrupt the clinic, so it must say disruptive: true`;
    const hint = "it then waits for the maintenance window";
    ctx.report(source, ["disruptive"], "disruptive_mismatch", message, hint);
  }
  declared.forEach((index, name) => {
    if (!scope.used.has(name)) {
      const message = `param ${name} is declared but no step uses it`;
      ctx.report(source, ["params", index, "name"], "param_ref", message);
    }
  });
}

/** Checks one step; returns its action's spec when the action is in the allowlist. */
function lintStep(scope: RunbookScope, phase: StepPhase, at: Path, step: Step) {
  const { ctx, source } = scope;
  const shell = shellStringReason(step.action, undefined);
  if (shell !== null) {
    ctx.report(source, [...at, "action"], "shell_string", shell, SHELL_HINT);
    return undefined;
  }
  if (!isActionName(step.action)) {
    const family = step.action.split(".")[0] ?? "";
    const near = ACTION_NAMES.filter((name) => name.startsWith(`${family}.`));
    const message = `"${step.action}" is not in the action allowlist`;
    const hint = `allowed actions: ${(near.length > 0 ? near : ACTION_NAMES).join(", ")}`;
    ctx.report(source, [...at, "action"], "unknown_action", message, hint);
    return undefined;
  }
  const spec: ActionSpec = ACTIONS[step.action];
  if (READ_ONLY_PHASES.has(phase) && spec.effect !== "read_only") {
    const message = `${step.action} changes the host or notifies; ${phase} may only observe`;
    const hint = "use a check.* or *.unit_active action here";
    ctx.report(source, [...at, "action"], "wrong_phase", message, hint);
  }

  const params = step.params ?? {};
  for (const [name, value] of Object.entries(params)) {
    lintParam(scope, step.action, spec, [...at, "params", name], name, value);
  }
  for (const name of Object.keys(spec.params).filter((n) => !(n in params))) {
    const message = `${step.action} needs param ${name}`;
    ctx.report(source, [...at, "action"], "invalid_action_params", message);
  }
  const { check, finding } = params;
  if (typeof check === "string" && isDriftCheckId(check) && typeof finding === "string") {
    if (!isDeclaredFinding(check, finding)) {
      reportUnknownFinding(ctx, source, [...at, "params", "finding"], check, finding);
    }
  }
  return spec;
}

function lintParam(
  scope: RunbookScope,
  action: string,
  spec: ActionSpec,
  path: Path,
  name: string,
  value: ParamValue,
): void {
  const { ctx, source, runbook } = scope;
  const kind = spec.params[name];
  if (SHELL_KEYS.has(name)) {
    ctx.report(source, path, "shell_string", `"${name}" would hold a shell command`, SHELL_HINT);
    return;
  }
  const shell = typeof value === "string" ? shellStringReason(value, kind) : null;
  if (shell !== null) {
    ctx.report(source, path, "shell_string", shell, SHELL_HINT);
    return;
  }
  if (kind === undefined) {
    const hint = `it takes ${Object.keys(spec.params).join(", ") || "no params"}`;
    ctx.report(source, path, "invalid_action_params", `${action} has no param "${name}"`, hint);
    return;
  }
  if (isParamRef(value)) {
    scope.used.add(value.param);
    const index = scope.declared.get(value.param);
    const param = index === undefined ? undefined : runbook.params?.[index];
    if (param === undefined) {
      const message = `refers to param ${value.param}, which the runbook does not declare`;
      ctx.report(source, path, "param_ref", message);
    } else if (param.kind !== kind) {
      const message = `refers to param ${value.param} of kind ${param.kind}, ${action}.${name} needs ${kind}`;
      ctx.report(source, path, "param_ref", message);
    }
    return;
  }
  if (kind === "check" && typeof value === "string" && !isDriftCheckId(value)) {
    reportUnknownCheck(ctx, source, path, value);
    return;
  }
  const parsed = PARAM_KINDS[kind].schema.safeParse(value);
  if (!parsed.success) {
    const message = `${action}.${name}: ${parsed.error.issues[0]?.message ?? "invalid"}`;
    ctx.report(source, path, "invalid_action_params", message, PARAM_KINDS[kind].description);
  } else if (kind === "unit" && !unitAllowed(ctx.baseline.value, String(value))) {
    const message = `${String(value)} matches no allowed_units pattern of the baseline`;
    const hint = "allow the unit in baseline/hipaa-v1.yaml, with a reason";
    ctx.report(source, path, "unit_not_allowed", message, hint);
  }
}
