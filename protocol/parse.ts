import { z } from "zod";
import { ProtocolError } from "./errors.ts";

/**
 * Parse at the edge: turn untrusted input into a typed message or throw a ProtocolError whose
 * message names every offending field and what it should be (zod's prettified issues).
 */
export function parseMessage<S extends z.ZodType>(schema: S, input: unknown, what: string) {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ProtocolError(
      "invalid_message",
      `${what} is invalid:\n${z.prettifyError(result.error)}`,
      {
        cause: result.error,
      },
    );
  }
  return result.data as z.infer<S>;
}

/** Like parseMessage, for callers that turn a bad message into a result rather than a throw. */
export function tryParseMessage<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; value: z.infer<S> } | { ok: false; problem: string } {
  const result = schema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data as z.infer<S> }
    : { ok: false, problem: z.prettifyError(result.error) };
}
