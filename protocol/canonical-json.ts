import { ProtocolError } from "./errors.ts";

/**
 * JSON Canonicalization Scheme, RFC 8785. Everything that is hashed or signed in this
 * protocol goes through `canonicalize` first, so both sides hash the same bytes whatever
 * order or whitespace a serializer chose.
 *
 * The input is a JSON value as produced by JSON.parse. Anything without an I-JSON (RFC 7493)
 * form is refused rather than silently changed: undefined, functions, symbols, bigints,
 * NaN and ±Infinity, strings with lone surrogates, objects that are not plain, arrays with
 * holes (a sparse array has no JSON text: `[,1]` is not JSON), and an own `__proto__` member.
 * JSON.parse makes `{"__proto__":…}` an own property, but zod's objects and records and most
 * JavaScript code drop or misread it, so the bytes a party stored would differ from the value it
 * checked: such a member is refused wherever it turns up (see also `refuseProtoKeys`).
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

const MAX_DEPTH = 128;

export function canonicalize(value: unknown): string {
  return serialize(value, "$", 0);
}

export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

function serialize(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) {
    throw new ProtocolError("not_canonicalizable", `${path}: nested deeper than ${MAX_DEPTH}`);
  }
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return serializeNumber(value, path);
    case "string":
      return serializeString(value, path);
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return serializeArray(value, path, depth);
      return serializeObject(value, path, depth);
    default:
      throw new ProtocolError("not_canonicalizable", `${path}: ${typeof value} has no JSON form`);
  }
}

// RFC 8785 §3.2.2.3: numbers are serialized as ECMAScript's Number.prototype.toString does,
// which JSON.stringify applies to finite numbers (and which maps -0 to "0").
function serializeNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) {
    throw new ProtocolError("not_canonicalizable", `${path}: ${value} is not a JSON number`);
  }
  return JSON.stringify(value);
}

// RFC 8785 §3.2.2.2: JSON.stringify escapes exactly the characters the RFC requires
// (", \, and U+0000..U+001F with the short forms \b \t \n \f \r, others as lower-case \u00xx)
// and leaves everything else as is. Lone surrogates are not I-JSON (RFC 7493 §2.1): refuse.
function serializeString(value: string, path: string): string {
  if (!value.isWellFormed()) {
    throw new ProtocolError("not_canonicalizable", `${path}: string holds a lone surrogate`);
  }
  return JSON.stringify(value);
}

function serializeArray(value: readonly unknown[], path: string, depth: number): string {
  const items: string[] = [];
  for (let i = 0; i < value.length; i++) {
    if (!Object.hasOwn(value, i)) {
      throw new ProtocolError(
        "not_canonicalizable",
        `${path}[${i}]: a sparse array has no JSON form`,
      );
    }
    items.push(serialize(value[i], `${path}[${i}]`, depth + 1));
  }
  return `[${items.join(",")}]`;
}

// RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names, which is the
// default order of Array.prototype.sort on strings.
function serializeObject(value: object, path: string, depth: number): string {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
    throw new ProtocolError("not_canonicalizable", `${path}: a ${kind} is not a plain JSON object`);
  }
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    if (key === "__proto__") {
      throw new ProtocolError("not_canonicalizable", `${path}: an own __proto__ member is refused`);
    }
    const member = record[key];
    if (member === undefined) {
      throw new ProtocolError("not_canonicalizable", `${path}.${key}: undefined has no JSON form`);
    }
    const memberPath = `${path}.${key}`;
    members.push(`${serializeString(key, memberPath)}:${serialize(member, memberPath, depth + 1)}`);
  }
  return `{${members.join(",")}}`;
}

/**
 * Finds an own `__proto__` member anywhere in a value from JSON.parse, before a schema sees it
 * (zod drops it silently). Returns its path, or undefined when there is none.
 */
export function findProtoKey(value: unknown, path = "$", depth = 0): string | undefined {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findProtoKey(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (Object.hasOwn(value, "__proto__")) return `${path}.__proto__`;
  for (const key of Object.keys(value)) {
    const found = findProtoKey(
      (value as Record<string, unknown>)[key],
      `${path}.${key}`,
      depth + 1,
    );
    if (found) return found;
  }
  return undefined;
}

/**
 * The path of the first string (value or member name) holding a lone surrogate, if any. zod's
 * `z.string()` accepts them, but they have no canonical form (RFC 7493 §2.1): a message holding
 * one could be stored yet never signed, hashed or chained. Refused at the edge with
 * findProtoKey.
 */
export function findLoneSurrogate(value: unknown, path = "$", depth = 0): string | undefined {
  if (typeof value === "string") return value.isWellFormed() ? undefined : path;
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findLoneSurrogate(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, member] of Object.entries(value)) {
    if (!key.isWellFormed()) return `${path} (a member name)`;
    const found = findLoneSurrogate(member, `${path}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}
