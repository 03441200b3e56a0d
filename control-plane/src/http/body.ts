import type { Context } from "hono";
import { z } from "zod";
import { unfitInput } from "#protocol";
import { ControlPlaneError } from "../errors.ts";

/** Largest body the admin, operator and dashboard surfaces read (appliances: the protocol's). */
export const MAX_OPERATOR_BODY_BYTES = 256 * 1024;
/**
 * Largest body a route open to anyone reads (enrollment, sign-in): an enrollment request is
 * about 2 KiB. Whatever the surface allows its authenticated routes, an unauthenticated caller
 * cannot make the server buffer or parse more than this.
 */
export const MAX_PUBLIC_BODY_BYTES = 64 * 1024;
/**
 * Deepest nesting of arrays and objects a JSON body may have (the deepest message, an
 * evidence upload, nests about 8). Checked on the bytes before parsing, in one linear pass.
 */
export const MAX_JSON_DEPTH = 32;

export type BodyType = "json" | "form";

const MEDIA: Record<BodyType, { pattern: RegExp; refusal: string }> = {
  json: { pattern: /^application\/json\b/i, refusal: "expected content-type application/json" },
  form: { pattern: /^application\/x-www-form-urlencoded\b/i, refusal: "expected a form" },
};

/** One read per request: the dashboard's session check and the route's schema share it. */
const read = new WeakMap<Request, Promise<unknown>>();

/**
 * The one request-body reader: checks the content type, reads at most `maxBytes` (the declared
 * length first, then the bytes as they arrive, so an oversized body is never buffered whole),
 * and parses JSON or an urlencoded form into plain strings. Schema validation comes after.
 */
export function readBody(c: Context, type: BodyType, maxBytes: number): Promise<unknown> {
  let body = read.get(c.req.raw);
  if (!body) {
    body = readOnce(c, type, maxBytes);
    read.set(c.req.raw, body);
  }
  return body;
}

async function readOnce(c: Context, type: BodyType, maxBytes: number): Promise<unknown> {
  if (!MEDIA[type].pattern.test(c.req.header("content-type") ?? "")) {
    throw new ControlPlaneError("unsupported_media_type", MEDIA[type].refusal);
  }
  const bytes = await readLimited(c.req.raw, maxBytes);
  if (type === "json") checkDepth(bytes, MAX_JSON_DEPTH);
  const text = decodeUtf8(bytes);
  if (type === "form") return Object.fromEntries(new URLSearchParams(text));
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ControlPlaneError("invalid_request", "the body is not JSON", { cause });
  }
}

const tooLarge = (maxBytes: number) =>
  new ControlPlaneError("payload_too_large", `the body is larger than ${maxBytes} bytes`);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict UTF-8: an invalid sequence is refused, never replaced with U+FFFD. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new ControlPlaneError("invalid_request", "the body is not valid UTF-8", { cause });
  }
}

/**
 * Refuses JSON nested deeper than `max` before it is parsed: one pass over the bytes counting
 * brackets outside strings (UTF-8 continuation bytes are never `"`, `\\`, `[` or `{`).
 */
export function checkDepth(bytes: Uint8Array, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) {
        throw new ControlPlaneError(
          "invalid_request",
          `the body nests arrays and objects deeper than ${max} levels`,
        );
      }
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  // A declared length is what the HTTP parser delivers, never more: read it whole, which
  // @hono/node-server does straight from the socket, without a web stream per request.
  if (Number.isSafeInteger(declared) && declared >= 0) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Parses a read body, path parameters or query against the route's schema; a failure is a 400
 * naming the field. `label` keeps each surface's wording: a protocol message names itself
 * ("poll request is invalid: …"), a form names its field; `labelIsMessage` makes the label the
 * whole answer.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: "body" | "form" | "params" | "query",
  label?: string,
  labelIsMessage = false,
): z.output<S> {
  // An own __proto__ member anywhere is refused before zod, which would drop it silently (the
  // bytes stored or signed would then differ from the value checked), and so is a lone
  // surrogate, which zod accepts but nothing can sign or hash.
  const unfit = unfitInput(value);
  if (unfit) {
    throw new ControlPlaneError(
      "invalid_request",
      `${label ? `${label} is invalid:\n` : ""}${unfit}`,
    );
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const message = labelIsMessage
    ? (label as string)
    : where === "params"
      ? `invalid ${String(issue?.path[0] ?? "path")}`
      : where === "form"
        ? `the ${String(issue?.path[0] ?? "form")} field: ${issue?.message}`
        : label
          ? `${label} is invalid:\n${z.prettifyError(parsed.error)}`
          : z.prettifyError(parsed.error);
  throw new ControlPlaneError("invalid_request", message, { cause: parsed.error });
}
