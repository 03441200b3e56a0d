import type { Finding } from "#protocol";
import type { ClientException } from "./exceptions-schema.ts";

export interface ExceptionStatus {
  /** In force today: the toggle's drift is reported as excepted, with the exception as evidence. */
  readonly active: readonly ClientException[];
  /** Past expires_on: the toggle is enforced again, and each one is a finding of its own. */
  readonly expired: readonly ClientException[];
  readonly findings: readonly Finding[];
}

/**
 * Splits a client's exceptions at `today` (YYYY-MM-DD, UTC). An exception holds through its
 * expires_on day. An expired one never silently passes: it comes back as a finding for the
 * agent's evidence and the monthly packet.
 */
export function evaluateExceptions(
  exceptions: readonly ClientException[],
  today: string,
): ExceptionStatus {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) {
    throw new RangeError(`today must be a YYYY-MM-DD date, got ${JSON.stringify(today)}`);
  }
  const active = exceptions.filter((e) => e.expires_on >= today);
  const expired = exceptions.filter((e) => e.expires_on < today);
  const findings = expired.map(
    (e): Finding => ({
      code: "exception_expired",
      subject: e.toggle,
      expected: `exception valid through ${e.expires_on}`,
      observed: today,
      message:
        `The exception for ${e.toggle} approved by ${e.approved_by} on ${e.approved_on} expired on ${e.expires_on}; the toggle is enforced again until a new exception is approved.`.slice(
          0,
          500,
        ),
    }),
  );
  return { active, expired, findings };
}
