import { CodedError, isCodedError } from "#protocol";

/**
 * The one error class of the agent. Expected outcomes (a refused order, an unreachable control
 * plane during a cycle) are results; an AgentError means something the agent cannot work around
 * by itself: a bad config file, an unusable key, a journal it cannot open, an enrollment answer
 * that is not from the pinned control plane.
 */
export type AgentErrorCode =
  | "invalid_config"
  | "invalid_key"
  | "journal_failure"
  | "disk_full"
  | "unreachable"
  // the server closed a kept-alive socket just as a request went out on it: safe to resend once
  | "stale_connection"
  | "bad_response"
  | "untrusted_response"
  | "host_failure"
  | "stopped";

export class AgentError extends CodedError<AgentErrorCode> {
  override readonly name = "AgentError";
}

export const isAgentError = (error: unknown, code?: AgentErrorCode): error is AgentError =>
  error instanceof AgentError && isCodedError(error, code);
