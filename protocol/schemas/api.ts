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
 * The body of every non-2xx answer, served as `application/problem+json` (RFC 9457). `code` is
 * a stable machine-readable extension member; `title` and `detail` are for people and never carry
 * internals (stack traces, SQL, secrets). `expected_seq` answers an evidence upload that left a
 * gap: the appliance resends from that sequence number.
 */
export const Problem = z.strictObject({
  type: z.string().max(200),
  title: z.string().max(200),
  status: z.int().min(400).max(599),
  detail: z.string().max(2000).optional(),
  instance: z.string().max(200).optional(),
  code: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "use snake_case")
    .max(64),
  expected_seq: z.int().min(1).optional(),
});
export type Problem = z.infer<typeof Problem>;
