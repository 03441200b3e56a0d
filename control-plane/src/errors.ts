import { CodedError } from "#protocol";

/**
 * The one error class of the control plane, on the project's `CodedError` base. `code` is a
 * closed union in two parts:
 * - client codes: `app.onError` maps each to exactly one HTTP status and problem type (below);
 * - internal codes: the command line, start-up and internal faults. They never reach a client
 *   as such: over HTTP any of them is a 500 with the generic `internal` problem.
 * The message is internal (it is logged, without secrets) and reaches a client only as the
 * `detail` of a 4xx problem, where it describes the caller's own input.
 */
export type ClientErrorCode =
  | "invalid_request"
  | "payload_too_large"
  | "unsupported_media_type"
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

export type InternalErrorCode =
  // command line and start-up (the CLI exits 2 on these two and prints its usage)
  | "usage"
  | "invalid_config"
  // command line: a file it needs is missing, a data directory is already set up
  | "file_missing"
  | "already_initialised"
  // a key or sealed secret that cannot be used
  | "invalid_key"
  // packets: a route turns these into client codes with its own wording
  | "unknown_tenant"
  | "invalid_month"
  // queue: closed during shutdown, or a message that goes to the dead-letter subject
  | "queue_closed"
  | "invalid_queue_message"
  // evidence vault: the archive or the store disagree with what was queued or signed
  | "vault_integrity"
  | "vault_incomplete"
  // store: a schema migration failed
  | "migration_failed"
  // scheduled jobs: another instance took the lease while the job ran (the job's abort reason)
  | "lease_lost";

export type ControlPlaneErrorCode = ClientErrorCode | InternalErrorCode;

export class ControlPlaneError extends CodedError<ControlPlaneErrorCode> {
  override readonly name = "ControlPlaneError";
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
    super(code, message, options);
    const extra: { expected_seq?: number; retry_after_s?: number } = {};
    if (options?.expected_seq !== undefined) extra.expected_seq = options.expected_seq;
    if (options?.retry_after_s !== undefined) extra.retry_after_s = options.retry_after_s;
    this.extra = extra;
  }
}

/** HTTP status and a fixed, client-safe title for each client code. */
export const ERROR_HTTP: Readonly<
  Record<ClientErrorCode, { readonly status: number; readonly title: string }>
> = {
  invalid_request: { status: 400, title: "The request is malformed" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "The request body's content type is not accepted" },
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
  locked_out: { status: 429, title: "Too many failed sign-ins from this address; try again later" },
  csrf_failed: { status: 403, title: "CSRF check failed" },
  unavailable: { status: 503, title: "Temporarily unavailable" },
  internal: { status: 500, title: "Internal error" },
};

/** The client code an error is shown as: its own when it has one, else `internal`. */
export function clientCode(error: unknown): ClientErrorCode {
  if (!(error instanceof ControlPlaneError)) return "internal";
  return Object.hasOwn(ERROR_HTTP, error.code) ? (error.code as ClientErrorCode) : "internal";
}
