import { z } from "zod";
import { TenantId } from "#protocol";
import { Text, ToggleId } from "./shared-schemas.ts";

/**
 * A client's documented deviation from one toggle. It is risk acceptance under the clinic's
 * risk management (45 CFR 164.308(a)(1)(ii)(B)), so it names who owns the risk, who approved it
 * and until when. Dates are calendar dates (UTC); the exception holds through expires_on.
 */
export const ClientException = z
  .strictObject({
    toggle: ToggleId,
    reason: Text(10, 600),
    risk: z.enum(["low", "medium", "high"]),
    compensating_control: Text(10, 600),
    owner: Text(2, 120),
    approved_by: Text(2, 120),
    approved_on: z.iso.date(),
    expires_on: z.iso.date(),
  })
  .refine((e) => e.expires_on >= e.approved_on, {
    path: ["expires_on"],
    message: "must not be before approved_on",
  });
export type ClientException = z.infer<typeof ClientException>;

export const ClientExceptions = z.strictObject({
  client: TenantId,
  /** The baseline the exceptions were approved against, such as hipaa-v1. */
  baseline: z.string().min(1).max(64),
  exceptions: z.array(ClientException),
});
export type ClientExceptions = z.infer<typeof ClientExceptions>;
