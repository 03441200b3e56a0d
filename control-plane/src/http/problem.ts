import type { Context } from "hono";
import type { z } from "zod";
import { type Problem, ProtocolError, parseMessage } from "#protocol";
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

/** Reads a JSON body and parses it with a strict protocol schema, as a 400 problem on failure. */
export async function readMessage<S extends z.ZodType>(
  c: Context,
  schema: S,
  what: string,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new ControlPlaneError("invalid_request", "expected content-type application/json");
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (cause) {
    if (cause instanceof ControlPlaneError) throw cause;
    throw new ControlPlaneError("invalid_request", "the body is not JSON", { cause });
  }
  try {
    return parseMessage(schema, body, what);
  } catch (cause) {
    if (cause instanceof ProtocolError) {
      throw new ControlPlaneError("invalid_request", cause.message, { cause });
    }
    throw cause;
  }
}
