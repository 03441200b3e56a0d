import type { Role } from "../access/roles.ts";

/** How long a session lives: `idleMs` without a request, `maxMs` at most from sign-in. */
export interface SessionLimits {
  readonly idleMs: number;
  readonly maxMs: number;
}

/** Operator sign-in settings (serve config `sign_in`). */
export interface SignInSettings {
  /** Roles whose local accounts must present a code (an account with one enrolled always does). */
  readonly mfaRequiredFor: readonly Role[];
  readonly session: SessionLimits;
  /** The issuer named in enrolment URIs (what authenticator apps show). */
  readonly totpIssuer: string;
}

export const DEFAULT_SIGN_IN: SignInSettings = {
  mfaRequiredFor: ["admin"],
  session: { idleMs: 30 * 60 * 1000, maxMs: 8 * 60 * 60 * 1000 },
  totpIssuer: "MSP Compliance",
};
