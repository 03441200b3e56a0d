import { unitAllowed } from "#catalog";
import { type ActionContext, type ActionParams, exec, runOk, type StepResult } from "./context.ts";

/**
 * systemd actions. Units are re-checked against the baseline's allowed_units here (the runbook
 * lint and the order params already did; the privileged helper does it once more).
 */
function allowedUnit(params: ActionParams, ctx: ActionContext): string | StepResult {
  const unit = String(params.unit);
  return unitAllowed(ctx.baseline, unit)
    ? unit
    : { ok: false, detail: `${unit} is not an allowed unit of the baseline` };
}

const verb =
  (command: "restart" | "start" | "reset-failed") =>
  async (params: ActionParams, ctx: ActionContext): Promise<StepResult> => {
    const unit = allowedUnit(params, ctx);
    if (typeof unit !== "string") return unit;
    // systemctl restart/start wait for the job to finish (active, or failed: non-zero exit).
    return runOk(ctx, ["systemctl", command, unit]);
  };

export const restart = verb("restart");
export const start = verb("start");
export const resetFailed = verb("reset-failed");

export const SHOW_PROPERTIES = "--property=Type,ActiveState,SubState,Result";

/** `systemctl show` Key=Value lines as a record. */
export function parseShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return out;
}

export async function unitActive(params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  const unit = String(params.unit);
  const result = await exec(ctx, ["systemctl", "show", unit, SHOW_PROPERTIES]);
  if (result.kind !== "exited" || result.code !== 0) {
    return { ok: false, detail: `systemctl show ${unit} did not answer` };
  }
  const show = parseShow(result.stdout);
  const state = show.ActiveState;
  if (state === undefined) return { ok: false, detail: `systemctl show ${unit}: no ActiveState` };
  const oneshotDone = show.Type === "oneshot" && state === "inactive" && show.Result === "success";
  if (state === "active" || oneshotDone) return { ok: true };
  return {
    ok: false,
    detail: `${unit} is ${state}`,
    findings: [{ code: "unit_inactive", subject: unit, expected: "active", observed: state }],
  };
}
