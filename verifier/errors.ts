import { CodedError } from "../protocol/index.ts";

/**
 * The verifier's error class. A tampered or incomplete export is a result (`ExportFailure`),
 * never an error; a VerifierError means the verifier itself could not run, e.g. a worker thread
 * that died.
 */
export type VerifierErrorCode = "worker_failed";

export class VerifierError extends CodedError<VerifierErrorCode> {
  override readonly name = "VerifierError";
}
