/**
 * The one error class of the protocol layer. Expected verification failures are results
 * (see `verifyChain`, `verifyOrder`); a ProtocolError means the caller handed us something
 * that cannot be processed at all: a value that has no canonical form, a malformed key, a
 * message that fails its schema.
 */
export type ProtocolErrorCode =
  | "invalid_message"
  | "not_canonicalizable"
  | "invalid_key"
  | "invalid_encoding";

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
