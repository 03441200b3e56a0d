import type { Context } from "hono";
import type { z } from "zod";
import { tryParseMessage } from "#protocol";
import { ControlPlaneError } from "../errors.ts";

/** Admin and operator request bodies: JSON parsed with a strict schema, 400 naming the field. */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch (cause) {
    throw new ControlPlaneError("invalid_request", "the body is not JSON", { cause });
  }
  // tryParseMessage also refuses an own __proto__ member, which zod would drop silently.
  const parsed = tryParseMessage(schema, raw);
  if (!parsed.ok) throw new ControlPlaneError("invalid_request", parsed.problem);
  return parsed.value;
}

/** A path parameter checked against its schema (tenant ids, appliance ids, uuids). */
export function param(c: Context, name: string, schema: z.ZodType<string>): string {
  const parsed = schema.safeParse(c.req.param(name));
  if (!parsed.success) throw new ControlPlaneError("invalid_request", `invalid ${name}`);
  return parsed.data;
}
