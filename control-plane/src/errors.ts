/**
 * The one error class of the control plane. `code` is a closed union so `app.onError` can map
 * every error to exactly one HTTP status and problem type; the message is internal (it may be
 * logged, without secrets) and never reaches a client: the client sees the problem `title`.
 */
export type ControlPlaneErrorCode =
  | "invalid_request"
  | "payload_too_large"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "enrollment_refused"
  | "token_invalid"
  | "evidence_gap"
  | "evidence_fork"
  | "evidence_bad_signature"
  | "evidence_invalid"
  | "rate_limited"
  | "locked_out"
  | "csrf_failed"
  | "unavailable"
  | "internal";

export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
  readonly code: ControlPlaneErrorCode;
  /** Extension members a client may act on (e.g. `expected_seq`); never internals. */
  readonly extra: { readonly expected_seq?: number; readonly retry_after_s?: number };

  constructor(
    code: ControlPlaneErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      expected_seq?: number;
      retry_after_s?: number;
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const extra: { expected_seq?: number; retry_after_s?: number } = {};
    if (options?.expected_seq !== undefined) extra.expected_seq = options.expected_seq;
    if (options?.retry_after_s !== undefined) extra.retry_after_s = options.retry_after_s;
    this.extra = extra;
  }
}

/** HTTP status and a fixed, client-safe title for each code. */
export const ERROR_HTTP: Readonly<
  Record<ControlPlaneErrorCode, { readonly status: number; readonly title: string }>
> = {
  invalid_request: { status: 400, title: "The request is malformed" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unauthenticated: { status: 401, title: "Authentication is required" },
  forbidden: { status: 403, title: "Not allowed for this identity" },
  not_found: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflicts with the current state" },
  enrollment_refused: { status: 403, title: "Enrollment refused" },
  token_invalid: { status: 403, title: "The enrollment token is invalid, used or expired" },
  evidence_gap: { status: 409, title: "Evidence is missing before this upload" },
  evidence_fork: { status: 409, title: "Evidence conflicts with the stored chain" },
  evidence_bad_signature: { status: 422, title: "Evidence signature does not verify" },
  evidence_invalid: { status: 422, title: "Evidence upload is not a valid chain segment" },
  rate_limited: { status: 429, title: "Too many requests" },
  locked_out: { status: 429, title: "Too many failed sign-ins; try again later" },
  csrf_failed: { status: 403, title: "CSRF check failed" },
  unavailable: { status: 503, title: "Temporarily unavailable" },
  internal: { status: 500, title: "Internal error" },
};
