import type { Severity } from "#protocol";
import type { ActionContext, ActionParams, StepResult } from "./context.ts";

/** alert.raise: an alert bundle; the control plane shows it to the operator. */
export async function alertRaise(params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  ctx.record({
    kind: "alert",
    code: String(params.code),
    severity: params.severity as Severity,
    subject: ctx.runbookId,
    message: String(params.message),
  });
  return { ok: true };
}

/**
 * certificate.renew needs a renewal route on the control plane (a CSR over the current mTLS
 * session), which this protocol version does not have yet. It fails honestly, so the runbook's
 * rollback alerts a person and the drift becomes an incident.
 */
export async function certificateRenew(): Promise<StepResult> {
  return {
    ok: false,
    detail:
      "certificate renewal is not supported by this protocol version; re-enroll the appliance",
  };
}
