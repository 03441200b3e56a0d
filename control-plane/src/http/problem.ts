import type { Context } from "hono";
import type { Problem } from "#protocol";
import { ControlPlaneError, clientCode, ERROR_HTTP } from "../errors.ts";

/**
 * Maps any thrown value to an RFC 9457 problem: the one place an error becomes HTTP. Unknown
 * errors and internal codes become a bare 500.
 */
export function toProblem(error: unknown, instance?: string): Problem {
  const code = clientCode(error);
  const known = error instanceof ControlPlaneError && code !== "internal" ? error : undefined;
  const { status, title } = ERROR_HTTP[code];
  const problem: Problem = { type: `urn:msp:problem:${code}`, title, status, code };
  // Only our own client-facing messages (validation of the caller's input) become detail.
  if (known && status < 500 && known.message) problem.detail = known.message.slice(0, 2000);
  if (known?.extra.expected_seq !== undefined) problem.expected_seq = known.extra.expected_seq;
  if (instance) problem.instance = instance.slice(0, 200);
  return problem;
}

export function problemResponse(
  c: Context,
  problem: Problem,
  headers: Record<string, string> = {},
) {
  return c.body(JSON.stringify(problem), problem.status as 400, {
    "content-type": "application/problem+json",
    ...headers,
  });
}
