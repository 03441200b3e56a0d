import { z } from "zod";
import { ProtocolVersion, Uuid } from "./common.ts";

/** The control plane's answer to a message it stored but has nothing signed to say about. */
export const Acknowledgement = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("ack"),
  /** The id of what was acknowledged (order id, incident id). */
  ref: Uuid,
});
export type Acknowledgement = z.infer<typeof Acknowledgement>;

/**
 * The body of every non-2xx answer. `code` is stable and machine-readable; `message` is for
 * people and never carries internals (stack traces, SQL, secrets).
 */
export const ApiError = z.strictObject({
  error: z.strictObject({
    code: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .max(64),
    message: z.string().max(2000),
  }),
});
export type ApiError = z.infer<typeof ApiError>;
