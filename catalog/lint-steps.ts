import { ACTION_NAMES, ACTIONS, type ActionSpec, isActionName } from "./actions.ts";
import { unitAllowed } from "./baseline-schema.ts";
import type { CrossContext } from "./cross-context.ts";
import { DRIFT_CHECKS, isDeclaredFinding, isDriftCheckId } from "./drift-checks.ts";
import { PARAM_KINDS } from "./param-kinds.ts";
import type { Parsed } from "./read-files.ts";
import { isParamRef, type Runbook, STEP_PHASES, type StepPhase } from "./runbook-schema.ts";
import { SHELL_HINT, SHELL_KEYS, shellStringReason } from "./shell.ts";

/** Preconditions and verification decide; they must not change the host they judge. */
const READ_ONLY_PHASES: ReadonlySet<StepPhase> = new Set(["preconditions", "verification"]);

export function lintRunbookSteps(ctx: CrossContext): void {
  for (const runbook of ctx.runbooks.values()) lintRunbook(ctx, runbook);
}

function lintRunbook(ctx: CrossContext, { source, value: runbook }: Parsed<Runbook>): void {
  const declared = new Map<string, number>();
  (runbook.params ?? []).forEach((param, index) => {
    if (declared.has(param.name)) {
      ctx.report(
        source,
        ["params", index, "name"],
        "duplicate_id",
        `param ${param.name} is declared twice`,
      );
    } else declared.set(param.name, index);
  });
  const used = new Set<string>();
  const disruptive = new Set<string>();

  for (const phase of STEP_PHASES) {
    runbook[phase].forEach((step, s) => {
      const at = [phase, s];
      const shell = shellStringReason(step.action, undefined);
      if (shell !== null) {
        ctx.report(source, [...at, "action"], "shell_string", shell, SHELL_HINT);
        return;
      }
      if (!isActionName(step.action)) {
        const family = step.action.split(".")[0] ?? "";
        const near = ACTION_NAMES.filter((name) => name.startsWith(`${family}.`));
        const hint = `allowed actions: ${(near.length > 0 ? near : ACTION_NAMES).join(", ")}`;
        ctx.report(
          source,
          [...at, "action"],
          "unknown_action",
          `"${step.action}" is not in the action allowlist`,
          hint,
        );
        return;
      }
      const spec: ActionSpec = ACTIONS[step.action];
      if (READ_ONLY_PHASES.has(phase) && spec.effect !== "read_only") {
        const message = `${step.action} changes the host or notifies; ${phase} may only observe`;
        ctx.report(
          source,
          [...at, "action"],
          "wrong_phase",
          message,
          "use a check.* or *.unit_active action here",
        );
      }
      if (spec.disruptive) disruptive.add(step.action);

      const params = step.params ?? {};
      for (const [name, value] of Object.entries(params)) {
        const path = [...at, "params", name];
        const kind = spec.params[name];
        if (SHELL_KEYS.has(name)) {
          ctx.report(
            source,
            path,
            "shell_string",
            `"${name}" would hold a shell command`,
            SHELL_HINT,
          );
          continue;
        }
        if (typeof value === "string") {
          const reason = shellStringReason(value, kind);
          if (reason !== null) {
            ctx.report(source, path, "shell_string", reason, SHELL_HINT);
            continue;
          }
        }
        if (kind === undefined) {
          const expected = Object.keys(spec.params).join(", ") || "no params";
          ctx.report(
            source,
            path,
            "invalid_action_params",
            `${step.action} has no param "${name}"`,
            `it takes ${expected}`,
          );
          continue;
        }
        if (isParamRef(value)) {
          used.add(value.param);
          const index = declared.get(value.param);
          const param = index === undefined ? undefined : runbook.params?.[index];
          if (param === undefined) {
            ctx.report(
              source,
              path,
              "param_ref",
              `refers to param ${value.param}, which the runbook does not declare`,
            );
          } else if (param.kind !== kind) {
            const message = `refers to param ${value.param} of kind ${param.kind}, ${step.action}.${name} needs ${kind}`;
            ctx.report(source, path, "param_ref", message);
          }
          continue;
        }
        if (kind === "check" && typeof value === "string" && !isDriftCheckId(value)) {
          const hint = `drift checks are ${Object.keys(DRIFT_CHECKS).join(", ")}`;
          ctx.report(source, path, "dangling_check", `unknown drift check "${value}"`, hint);
          continue;
        }
        const parsed = PARAM_KINDS[kind].schema.safeParse(value);
        if (!parsed.success) {
          const message = `${step.action}.${name}: ${parsed.error.issues[0]?.message ?? "invalid"}`;
          ctx.report(source, path, "invalid_action_params", message, PARAM_KINDS[kind].description);
        } else if (kind === "unit" && !unitAllowed(ctx.baseline.value, String(value))) {
          const message = `${String(value)} matches no allowed_units pattern of the baseline`;
          ctx.report(
            source,
            path,
            "unit_not_allowed",
            message,
            "allow the unit in baseline/hipaa-v1.yaml, with a reason",
          );
        }
      }
      for (const name of Object.keys(spec.params)) {
        if (!(name in params)) {
          ctx.report(
            source,
            [...at, "action"],
            "invalid_action_params",
            `${step.action} needs param ${name}`,
          );
        }
      }
      const check = params.check;
      const finding = params.finding;
      if (
        typeof check === "string" &&
        isDriftCheckId(check) &&
        typeof finding === "string" &&
        !isDeclaredFinding(check, finding)
      ) {
        const hint = `${check} reports ${DRIFT_CHECKS[check].findings.join(", ")}`;
        ctx.report(
          source,
          [...at, "params", "finding"],
          "dangling_finding",
          `check ${check} has no finding "${finding}"`,
          hint,
        );
      }
    });
  }

  if (disruptive.size > 0 && !runbook.disruptive) {
    const message = `uses ${[...disruptive].join(", ")}, which may interrupt the clinic, so it must say disruptive: true`;
    ctx.report(
      source,
      ["disruptive"],
      "disruptive_mismatch",
      message,
      "it then waits for the maintenance window",
    );
  }
  declared.forEach((index, name) => {
    if (!used.has(name)) {
      ctx.report(
        source,
        ["params", index, "name"],
        "param_ref",
        `param ${name} is declared but no step uses it`,
      );
    }
  });
}
