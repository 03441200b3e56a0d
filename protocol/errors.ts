/**
 * The one error base of the project (the sigstore-js shape): a `code` from a closed union per
 * area, a message for logs, and the `cause`. Each area declares its own union and a subclass
 * (`ProtocolError`, `AgentError`, `ControlPlaneError`, ...), so a caller branches on
 * `error.code`, never on message text. Expected outcomes are results, not errors.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `error` is a coded error (of any area), optionally with the given code. */
export function isCodedError<Code extends string>(
  error: unknown,
  code?: Code,
): error is CodedError<Code> {
  return error instanceof CodedError && (code === undefined || error.code === code);
}

/**
 * The protocol layer's codes. Expected verification failures are results (see `verifyChain`,
 * `verifyOrder`); a ProtocolError means the caller handed us something that cannot be processed
 * at all: a value that has no canonical form, a malformed key, a message that fails its schema.
 */
export type ProtocolErrorCode =
  | "invalid_message"
  | "not_canonicalizable"
  | "invalid_key"
  | "invalid_encoding";

export class ProtocolError extends CodedError<ProtocolErrorCode> {
  override readonly name = "ProtocolError";
}
