import { z } from "zod";
import { findLoneSurrogate, findProtoKey } from "./canonical-json.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Parse at the edge: turn untrusted input into a typed message or throw a ProtocolError whose
 * message names every offending field and what it should be (zod's prettified issues). An own
 * `__proto__` member anywhere is refused first: zod would drop it silently, and the bytes stored
 * or signed would then differ from the value checked.
 */
export function parseMessage<S extends z.ZodType>(schema: S, input: unknown, what: string) {
  const unfit = unfitInput(input);
  if (unfit) throw new ProtocolError("invalid_message", `${what} is invalid:\n${unfit}`);
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
  const unfit = unfitInput(input);
  if (unfit) return { ok: false, problem: unfit };
  const result = schema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data as z.infer<S> }
    : { ok: false, problem: z.prettifyError(result.error) };
}

/** What zod cannot see but signing would refuse: an own __proto__, a lone surrogate. */
export function unfitInput(input: unknown): string | undefined {
  const proto = findProtoKey(input);
  if (proto) return `✖ an own "__proto__" member is not allowed (remove it)\n  → at ${proto}`;
  const surrogate = findLoneSurrogate(input);
  if (surrogate) {
    return `✖ a string holds a lone surrogate (send well-formed UTF-16 text)\n  → at ${surrogate}`;
  }
  return undefined;
}
