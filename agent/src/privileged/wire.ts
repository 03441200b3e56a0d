import { z } from "zod";

/**
 * The helper's socket protocol: one newline-terminated JSON request per connection, one
 * newline-terminated JSON answer, then the connection closes. Strict schemas both ways.
 */
export const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Largest answer the agent reads: both capped outputs, JSON-escaped, with room to spare. */
export const MAX_RESPONSE_BYTES = 16 * MAX_OUTPUT_BYTES;

export const HelperRequest = z.strictObject({
  v: z.literal(1),
  argv: z.array(z.string().min(1).max(512)).min(1).max(16),
  stdin: z.string().max(MAX_REQUEST_BYTES).optional(),
  timeout_ms: z.int().min(1).max(3_600_000),
  max_output_bytes: z.int().min(1).max(MAX_OUTPUT_BYTES),
});
export type HelperRequest = z.infer<typeof HelperRequest>;

export const RefusalCode = z.enum(["malformed", "oversized", "unknown_command", "not_allowed"]);

export const HelperResponse = z.strictObject({
  v: z.literal(1),
  result: z.discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("exited"),
      code: z.int(),
      stdout: z.string(),
      stderr: z.string(),
      truncated: z.boolean(),
    }),
    z.strictObject({ kind: z.literal("timed_out") }),
    z.strictObject({ kind: z.literal("not_found") }),
    z.strictObject({ kind: z.literal("failed"), message: z.string().max(1000) }),
    z.strictObject({
      kind: z.literal("refused"),
      code: RefusalCode,
      message: z.string().max(1000),
    }),
  ]),
});
export type HelperResponse = z.infer<typeof HelperResponse>;
