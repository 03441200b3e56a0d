import { z } from "zod";
import type { AuditLog } from "../audit.ts";
import { ControlPlaneError } from "../errors.ts";
import type { SecretBox } from "../pki/index.ts";
import type { OperatorRecord, Store } from "../store/index.ts";
import type { SignInSettings } from "./settings.ts";
import { base32Decode, base32Encode, newTotpSecret, otpauthUri, verifyTotp } from "./totp.ts";

/**
 * TOTP second factor for local accounts (operator/totp.ts). The secret is sealed by the same
 * secret box as the tenant CA keys, so a copy of the database alone gives no codes away. An
 * operator enrols a secret (shown once, as an otpauth URI and base32) that takes effect when a
 * code of it is verified; another admin recovers a lost one by issuing a new secret (shown
 * once to that admin, never for their own account). A code is accepted one step either side of
 * now and only once: the step it belongs to must be after the last one accepted (the store
 * claims it in one statement).
 */
export interface MfaDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly now: () => Date;
  readonly secretBox: SecretBox;
  readonly signIn: SignInSettings;
}

/** A six-digit code as typed (spaces allowed between groups, as apps show it). */
export const TotpCode = z
  .string()
  .transform((s) => s.replaceAll(" ", ""))
  .pipe(z.string().regex(/^\d{6}$/, "six digits"));

/** A new secret as it is shown once: the URI apps scan and the base32 to type. */
export interface ShownSecret {
  readonly otpauth_uri: string;
  readonly secret: string;
}

export const mfaRequired = (settings: SignInSettings, o: OperatorRecord): boolean =>
  o.totpSealed !== null || settings.mfaRequiredFor.includes(o.role);

function newSecret(d: MfaDeps, username: string): { sealed: string; shown: ShownSecret } {
  const secret = newTotpSecret();
  return {
    sealed: d.secretBox.seal(base32Encode(secret)),
    shown: {
      otpauth_uri: otpauthUri(d.signIn.totpIssuer, username, secret),
      secret: base32Encode(secret),
    },
  };
}

const opened = (d: MfaDeps, sealed: string): Buffer => {
  const secret = base32Decode(d.secretBox.open(sealed));
  if (!secret) throw new ControlPlaneError("internal", "a stored TOTP secret is unreadable");
  return secret;
};

/** Whether `code` is a fresh code of the operator's secret; a used one never passes again. */
export async function checkTotp(
  d: MfaDeps,
  o: OperatorRecord,
  code: string | undefined,
): Promise<boolean> {
  const parsed = TotpCode.safeParse(code);
  if (!o.totpSealed || !parsed.success) return false;
  const step = verifyTotp(opened(d, o.totpSealed), parsed.data, d.now());
  return step !== undefined && (await d.store.claimTotpStep(o.operatorId, Number(step)));
}

async function operatorNamed(d: MfaDeps, username: string): Promise<OperatorRecord> {
  const o = await d.store.getOperatorByName(username);
  if (!o) throw new ControlPlaneError("not_found", "no such operator");
  return o;
}

/**
 * An operator's own enrolment, step one: a new secret, shown once, waiting for a code. The
 * secret in force (if any) keeps working until the new one is confirmed.
 */
export async function startEnrolment(d: MfaDeps, username: string): Promise<ShownSecret> {
  const o = await operatorNamed(d, username);
  const { sealed, shown } = newSecret(d, username);
  await d.store.updateOperator(o.operatorId, { totpPendingSealed: sealed });
  await d.audit.record(`operator:${username}`, "operator.mfa_enrolment_started", username);
  return shown;
}

/** Step two: a code of the waiting secret puts it in force (and is itself used up). */
export async function confirmEnrolment(d: MfaDeps, username: string, code: string): Promise<void> {
  const o = await operatorNamed(d, username);
  if (!o.totpPendingSealed)
    throw new ControlPlaneError("conflict", "no enrolment is waiting: start one first");
  const step = verifyTotp(opened(d, o.totpPendingSealed), code, d.now());
  if (step === undefined)
    throw new ControlPlaneError("invalid_request", "code: not a current code of the new secret");
  await d.store.updateOperator(o.operatorId, {
    totpSealed: o.totpPendingSealed,
    totpPendingSealed: null,
  });
  await d.store.claimTotpStep(o.operatorId, Number(step));
  await d.audit.record(`operator:${username}`, "operator.mfa_enrolled", username);
}

/**
 * Recovery by another admin (or the command line on the control plane's host): a new secret in
 * force at once, shown once to the one who reset it; every session of the account ends.
 */
export async function resetMfa(d: MfaDeps, actor: string, username: string): Promise<ShownSecret> {
  const o = await operatorNamed(d, username);
  if (actor === `operator:${username}`)
    throw new ControlPlaneError("forbidden", "another admin must reset your second factor");
  const { sealed, shown } = newSecret(d, username);
  await d.store.updateOperator(o.operatorId, { totpSealed: sealed, totpPendingSealed: null });
  const ended = await d.store.deleteSessionsOf(o.operatorId);
  await d.audit.record(actor, "operator.mfa_reset", username, { sessions_ended: ended });
  return shown;
}

/** A new account of a role that needs a code gets its secret at once (shown with its password). */
export async function enrolAtCreation(
  d: MfaDeps,
  username: string,
): Promise<ShownSecret | undefined> {
  const o = await operatorNamed(d, username);
  if (!mfaRequired(d.signIn, o)) return undefined;
  const { sealed, shown } = newSecret(d, username);
  await d.store.updateOperator(o.operatorId, { totpSealed: sealed });
  return shown;
}
