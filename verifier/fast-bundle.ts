import type { z } from "zod";
import {
  ApplianceId,
  EvidenceBundle,
  EvidenceEvent,
  Finding,
  Severity,
  Sha256Hex,
  Signature,
  TenantId,
  Timestamp,
} from "../protocol/index.ts";

/**
 * The fast path for the commonest bundle, a `check_result`: one walk over the value JSON.parse
 * made of a line that decides both "the line is exactly its RFC 8785 bytes" and "it is a valid
 * EvidenceBundle", without re-serializing it member by member and without zod.
 *
 * It is sound, not complete: `true` only when the slow path (canonicalize(raw) === line, then
 * EvidenceBundle.safeParse) would accept too; `false` sends the line down the slow path, which
 * decides and names the problem. Other event kinds always take the slow path. The test
 * (fast-bundle.test.ts) holds the two paths to that on valid lines and on thousands of mutations.
 *
 * Why the checks below amount to the canonical form:
 * - JSON.stringify of the parsed value equals the line: no whitespace, ECMAScript number form
 *   (RFC 8785 §3.2.2.3), JSON.stringify's escapes (§3.2.2.2), and no duplicate member (JSON.parse
 *   keeps one, so the text would be shorter).
 * - every object's own keys are the schema's keys in strictly ascending UTF-16 order (§3.2.3),
 *   which also refuses an own `__proto__` and any member the strict schema does not know.
 * - the line holds no `\u` escape, so no string holds a lone surrogate (RFC 7493 §2.1); a line
 *   with one goes down the slow path.
 * String formats are the schemas' own patterns and lengths, read from the zod definitions, so
 * the two paths cannot drift apart silently: an unknown check in a definition fails at load.
 */
type StringTest = (value: unknown) => boolean;

interface ZodStringDef {
  readonly type: string;
  readonly format?: string;
  readonly pattern?: RegExp;
  readonly checks?: readonly { readonly _zod: { readonly def: Record<string, unknown> } }[];
}

/**
 * A predicate equal to a zod string schema made of regex, datetime and length checks only. Up to
 * `remember` accepted values are kept, for values that repeat from line to line (tenant,
 * appliance, a few check ids), so that a repeated one costs a lookup rather than its patterns.
 */
export function stringTest(schema: z.ZodType, remember = 0): StringTest {
  const def = (schema as unknown as { _zod: { def: ZodStringDef } })._zod.def;
  if (def.type !== "string") throw new Error(`not a string schema: ${def.type}`);
  const patterns: RegExp[] = [];
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  if (def.format !== undefined) {
    if (def.format !== "datetime" || !def.pattern) throw new Error(`format ${def.format}`);
    patterns.push(def.pattern);
  }
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === "string_format" && c.format === "regex" && c.pattern instanceof RegExp) {
      patterns.push(c.pattern);
    } else if (c.check === "max_length" && typeof c.maximum === "number") {
      max = Math.min(max, c.maximum);
    } else if (c.check === "min_length" && typeof c.minimum === "number") {
      min = Math.max(min, c.minimum);
    } else {
      throw new Error(`string check ${String(c.check)} has no fast form`);
    }
  }
  for (const p of patterns) {
    if (p.global || p.sticky) throw new Error(`pattern ${p} keeps state between tests`);
  }
  const test = (value: unknown) => {
    if (typeof value !== "string" || value.length < min || value.length > max) return false;
    for (const p of patterns) if (!p.test(value)) return false;
    return true;
  };
  if (remember === 0) return test;
  const accepted = new Set<string>();
  return (value) => {
    if (typeof value === "string" && accepted.has(value)) return true;
    if (!test(value)) return false;
    if (accepted.size < remember) accepted.add(value as string);
    return true;
  };
}

// The schemas this fast path mirrors, taken apart once at load.
interface Shaped {
  readonly shape: Record<string, z.ZodType>;
}
const CHECK_RESULT = (EvidenceEvent.options as readonly unknown[]).find(
  (o) => ((o as Shaped).shape.kind as z.ZodLiteral | undefined)?.value === "check_result",
) as Shaped | undefined;
if (!CHECK_RESULT) throw new Error("EvidenceEvent has no check_result kind");
const cr = CHECK_RESULT.shape;
const inner = (s: z.ZodType | undefined) =>
  (s as unknown as { _zod: { def: { innerType: z.ZodType } } })._zod.def.innerType;
const defOf = (s: z.ZodType) =>
  (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;

const isTenantId = stringTest(TenantId, 16);
const isApplianceId = stringTest(ApplianceId, 16);
const isSha256Hex = stringTest(Sha256Hex);
const isTimestamp = stringTest(Timestamp);
const isCheckId = stringTest(cr.check_id as z.ZodType, 256);
const isSigValue = stringTest(Signature.shape.value);
const isFindingCode = stringTest(Finding.shape.code);
const isSubject = stringTest(inner(Finding.shape.subject));
const isMessage = stringTest(inner(Finding.shape.message));
const isReason = stringTest(inner(cr.reason));
const isCitation = stringTest(defOf(inner(cr.citations)).element as z.ZodType);
const isPreStateKey = stringTest(defOf(inner(cr.pre_state)).keyType as z.ZodType);
const STATUS = new Set((cr.status as z.ZodEnum).options as string[]);
const SEVERITY = new Set(Severity.options as string[]);

const BUNDLE_KEYS = [
  "appliance_id",
  "event",
  "prev_hash",
  "recorded_at",
  "seq",
  "sig",
  "tenant_id",
  "type",
  "v",
] as const;
const SIG_KEYS = ["alg", "key_id", "value"] as const;
// The check_result event's members in RFC 8785 order, and which of them are required.
const EVENT_KEYS = [
  "check_id",
  "citations",
  "duration_ms",
  "findings",
  "kind",
  "pre_state",
  "reason",
  "severity",
  "status",
] as const;
const EVENT_OPTIONAL = ["citations", "pre_state", "reason"];
const FINDING_KEYS = ["code", "expected", "message", "observed", "subject"] as const;
const FINDING_OPTIONAL = ["expected", "message", "observed", "subject"];

// A member added to or made optional in one of these schemas must be taught to this file first.
function sameMembers(
  name: string,
  shape: Record<string, z.ZodType>,
  keys: readonly string[],
  optional: readonly string[],
) {
  const actual = Object.keys(shape).sort();
  const opt = actual.filter((k) => defOf(shape[k] as z.ZodType).type === "optional");
  if (actual.join() !== keys.join() || opt.join() !== [...optional].sort().join()) {
    throw new Error(`${name} changed: the verifier's fast path must be updated (${actual.join()})`);
  }
}
sameMembers("EvidenceBundle", EvidenceBundle.shape, BUNDLE_KEYS, []);
sameMembers("Signature", Signature.shape, SIG_KEYS, []);
sameMembers("check_result", cr, EVENT_KEYS, EVENT_OPTIONAL);
sameMembers("Finding", Finding.shape, FINDING_KEYS, FINDING_OPTIONAL);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Own keys exactly `expected`, in that order. */
function hasExactKeys(o: Record<string, unknown>, expected: readonly string[]): boolean {
  const keys = Object.keys(o);
  if (keys.length !== expected.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== expected[i]) return false;
  return true;
}

/** Own keys a strictly ascending selection of `allowed` holding every required one. */
function hasOrderedKeys(
  o: Record<string, unknown>,
  allowed: readonly string[],
  required: (key: string) => boolean,
): boolean {
  const keys = Object.keys(o);
  let at = 0;
  for (const key of keys) {
    while (at < allowed.length && allowed[at] !== key) {
      if (required(allowed[at] as string)) return false;
      at++;
    }
    if (at === allowed.length) return false;
    at++;
  }
  for (; at < allowed.length; at++) if (required(allowed[at] as string)) return false;
  return true;
}

// Scalar: z.union([z.string().max(512), z.number(), z.boolean(), z.null()]); check_result's
// findings: an array of at most 64.
const SCALAR_MAX = 512;
const FINDINGS_MAX = 64;
const isScalar = (v: unknown) =>
  v === null ||
  typeof v === "boolean" ||
  (typeof v === "number" && Number.isFinite(v)) ||
  (typeof v === "string" && v.length <= SCALAR_MAX);

function isFinding(f: unknown): boolean {
  if (!isObject(f) || !hasOrderedKeys(f, FINDING_KEYS, (k) => !FINDING_OPTIONAL.includes(k))) {
    return false;
  }
  const { code, subject, expected, observed, message } = f;
  if (!isFindingCode(code)) return false;
  if (subject !== undefined && !isSubject(subject)) return false;
  if (message !== undefined && !isMessage(message)) return false;
  if (expected !== undefined && !isScalar(expected)) return false;
  if (observed !== undefined && !isScalar(observed)) return false;
  return true;
}

function isCheckResult(e: unknown): boolean {
  if (!isObject(e) || !hasOrderedKeys(e, EVENT_KEYS, (k) => !EVENT_OPTIONAL.includes(k))) {
    return false;
  }
  if (e.kind !== "check_result" || !isCheckId(e.check_id)) return false;
  if (typeof e.status !== "string" || !STATUS.has(e.status)) return false;
  if (typeof e.severity !== "string" || !SEVERITY.has(e.severity)) return false;
  const d = e.duration_ms;
  if (typeof d !== "number" || !Number.isFinite(d) || d < 0) return false;
  const findings = e.findings;
  if (!Array.isArray(findings) || findings.length > FINDINGS_MAX) return false;
  for (const f of findings) if (!isFinding(f)) return false;
  const citations = e.citations;
  if (citations !== undefined) {
    if (!Array.isArray(citations) || citations.length > 32) return false;
    for (const c of citations) if (!isCitation(c)) return false;
  }
  const reason = e.reason;
  if (reason !== undefined && !isReason(reason)) return false;
  const pre = e.pre_state;
  if (pre !== undefined) {
    if (!isObject(pre)) return false;
    const keys = Object.keys(pre);
    if (keys.length > 64) return false;
    let previous = "";
    for (const key of keys) {
      // Ascending order, and the name pattern refuses "__proto__" (it starts with a letter).
      if (key <= previous || !isPreStateKey(key)) return false;
      if (!isScalar(pre[key])) return false;
      previous = key;
    }
  }
  return true;
}

/** True only when `line` is the canonical form of `raw` and `raw` is a valid check_result bundle. */
export function isCanonicalCheckResultBundle(line: string, raw: unknown): raw is EvidenceBundle {
  if (!isObject(raw) || !hasExactKeys(raw, BUNDLE_KEYS)) return false;
  if (raw.v !== 1 || raw.type !== "evidence_bundle") return false;
  const seq = raw.seq;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return false;
  if (!isTenantId(raw.tenant_id) || !isApplianceId(raw.appliance_id)) return false;
  if (!isSha256Hex(raw.prev_hash) || !isTimestamp(raw.recorded_at)) return false;
  const sig = raw.sig;
  if (!isObject(sig) || !hasExactKeys(sig, SIG_KEYS) || sig.alg !== "Ed25519") return false;
  if (!isSha256Hex(sig.key_id)) return false;
  if (!isSigValue(sig.value)) return false;
  if (!isCheckResult(raw.event)) return false;
  return line.indexOf("\\u") < 0 && JSON.stringify(raw) === line;
}

/** What the byte-level fast path reads from a plain check_result line (offsets into the line). */
export interface PlainCheckResult {
  seq: number;
  /** Offsets of the `"sig":{…},` member: the line without them is the signed bytes. */
  sigFrom: number;
  sigTo: number;
  /** Offset of prev_hash's 64 hex digits. */
  prevAt: number;
  /** The 64 signature bytes, decoded from the line's base64 (a buffer the caller owns). */
  readonly signature: Uint8Array;
  /** Offsets of recorded_at's text: a string is made only by a caller that needs one. */
  recordedFrom: number;
  recordedTo: number;
  checkId: string;
  status: string;
}

/** A PlainCheckResult for the scanner to fill, reused from line to line. */
export const emptyPlainCheckResult = (): PlainCheckResult => ({
  seq: 0,
  sigFrom: 0,
  sigTo: 0,
  prevAt: 0,
  signature: new Uint8Array(64),
  recordedFrom: 0,
  recordedTo: 0,
  checkId: "",
  status: "",
});

const ascii = (text: string) => Buffer.from(text, "latin1");

// Buffer#toString(encoding, start, end) spends several times the copy of a short string on
// argument handling; the slice it ends in is called directly where Node has it.
type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;
const latin1 = (line: Buffer, from: number, to: number): string =>
  latin1Slice ? latin1Slice.call(line, from, to) : line.toString("latin1", from, to);

// The signature's pattern, decoded here byte by byte instead of matched as a string: canonical
// standard base64 of 64 bytes (RFC 4648 §4): 85 alphabet characters, one whose low four bits
// are zero (the last byte's remaining bits), and two pad characters. If the schema changes, this
// file must be taught the new form first.
const SIGNATURE_PATTERN = "^[A-Za-z0-9+/]{85}[AQgw]==$";
{
  const def = (Signature.shape.value as unknown as { _zod: { def: ZodStringDef } })._zod.def;
  const patterns = (def.checks ?? []).map((c) => c._zod.def.pattern);
  if (patterns.length !== 1 || String((patterns[0] as RegExp).source) !== SIGNATURE_PATTERN) {
    throw new Error("Signature.value changed: the verifier's byte scanner must be updated");
  }
}
const BASE64 = new Int8Array(256).fill(-1);
for (const [i, c] of [
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
].entries()) {
  BASE64[c.charCodeAt(0)] = i;
}

/**
 * The 88 characters at `at` of `line` as a canonical base64 Ed25519 signature (the pattern
 * above), decoded into `out`; false when they do not match the pattern exactly.
 */
function signatureInto(line: Buffer, at: number, out: Uint8Array): boolean {
  if (at < 0 || line.length - at < 88 || line[at + 86] !== 0x3d || line[at + 87] !== 0x3d)
    return false;
  let o = 0;
  for (let i = at; i < at + 84; i += 4) {
    const a = BASE64[line[i] as number] as number;
    const b = BASE64[line[i + 1] as number] as number;
    const c = BASE64[line[i + 2] as number] as number;
    const d = BASE64[line[i + 3] as number] as number;
    if ((a | b | c | d) < 0) return false;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 0xf) << 4) | (c >> 2);
    out[o++] = ((c & 0x3) << 6) | d;
  }
  const a = BASE64[line[at + 84] as number] as number;
  const b = BASE64[line[at + 85] as number] as number;
  if ((a | b) < 0 || (b & 0xf) !== 0) return false;
  out[o] = (a << 2) | (b >> 4);
  return true;
}

// recorded_at, read from bytes: the pattern of Timestamp is zod's datetime without offset. Its
// date part (always 10 characters) is decided by that pattern as a string the first time a date
// is seen and remembered; the time part after it is checked byte by byte as the pattern's tail
// reads. If zod's pattern changes, this file must be taught the new form first.
const TIME_PART = "T(?:(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:Z))$";
{
  const def = (Timestamp as unknown as { _zod: { def: ZodStringDef } })._zod.def;
  if (!def.pattern?.source.endsWith(`)))${TIME_PART}`) || (def.checks ?? []).length > 0) {
    throw new Error("Timestamp changed: the verifier's byte scanner must be updated");
  }
}
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** `T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$` over line[at..end). */
function isTimePart(line: Buffer, at: number, end: number): boolean {
  if (end - at < 10 || line[at] !== 0x54) return false;
  const h = line[at + 1] as number;
  const hh = line[at + 2] as number;
  if (!(((h === 0x30 || h === 0x31) && isDigit(hh)) || (h === 0x32 && hh >= 0x30 && hh <= 0x33)))
    return false;
  if (line[at + 3] !== 0x3a || line[at + 6] !== 0x3a) return false;
  const m = line[at + 4] as number;
  const s = line[at + 7] as number;
  if (m < 0x30 || m > 0x35 || s < 0x30 || s > 0x35) return false;
  if (!isDigit(line[at + 5] as number) || !isDigit(line[at + 8] as number)) return false;
  let i = at + 9;
  if (line[i] === 0x2e) {
    const first = ++i;
    while (i < end && isDigit(line[i] as number)) i++;
    if (i === first) return false;
  }
  return i === end - 1 && line[i] === 0x5a;
}

/** YYYY-MM-DD at `at` as the number YYYYMMDD (one per text), or -1 when not of that shape. */
function dateKey(line: Buffer, at: number): number {
  if (line[at + 4] !== 0x2d || line[at + 7] !== 0x2d) return -1;
  let key = 0;
  for (let k = 0; k < 10; k++) {
    if (k === 4 || k === 7) continue;
    const b = line[at + k] as number;
    if (!isDigit(b)) return -1;
    key = key * 10 + (b - 0x30);
  }
  return key;
}

/** The string of line[at..end) among `values` (ASCII), without making one; undefined if none. */
function oneOf(values: readonly Buffer[], names: readonly string[]) {
  return (line: Buffer, at: number, end: number): string | undefined => {
    next: for (let v = 0; v < values.length; v++) {
      const value = values[v] as Buffer;
      if (value.length !== end - at) continue;
      for (let k = 0; k < value.length; k++) if (line[at + k] !== value[k]) continue next;
      return names[v];
    }
    return undefined;
  };
}
const enumOf = (names: readonly string[]) => oneOf(names.map(ascii), names);
const severityAt = enumOf([...SEVERITY]);
const statusAt = enumOf([...STATUS]);

/**
 * The fast path without JSON.parse, for the commonest lines of all: a check_result without the
 * optional members, of the export's own tenant, appliance and key. The line must be byte for
 * byte this template, every string printable ASCII without an escape and matching its schema
 * pattern and length, every number plain digits (so the text is its own RFC 8785 form):
 *
 *   {"appliance_id":A,"event":{"check_id":C,"duration_ms":D,"findings":[F,…],
 *    "kind":"check_result","severity":S,"status":S},"prev_hash":H,"recorded_at":T,"seq":N,
 *    "sig":{"alg":"Ed25519","key_id":K,"value":V},"tenant_id":X,"type":"evidence_bundle","v":1}
 *
 * with at most 64 findings F, each {"code":…} followed by those of "expected", "message",
 * "observed" and "subject" it has, in that order; expected and observed a string, true, false,
 * null or plain digits.
 *
 * Anything else (false) goes to isCanonicalCheckResultBundle or the slow path, which decide
 * and name the problem; fast-bundle.test.ts holds this one to the slow path like the other.
 * It runs once per line of a large export, so it reads with plain loops over the bytes and
 * makes a string only of what the caller needs or a schema pattern must match.
 */
export function plainCheckResultScanner(expected: {
  tenantId: string;
  applianceId: string;
  keyId: string;
}): (line: Buffer, out: PlainCheckResult) => boolean {
  // The fixed values are compared byte for byte, so they must be what the schemas accept.
  if (
    !isTenantId(expected.tenantId) ||
    !isApplianceId(expected.applianceId) ||
    !isSha256Hex(expected.keyId)
  ) {
    return () => false;
  }
  const head = ascii(`{"appliance_id":"${expected.applianceId}","event":{"check_id":"`);
  const duration = ascii(`","duration_ms":`);
  const findingsOpen = ascii(`,"findings":[`);
  const kind = ascii(`],"kind":"check_result","severity":"`);
  const codeKey = ascii(`{"code":"`);
  const expectedKey = ascii(`,"expected":`);
  const messageKey = ascii(`,"message":"`);
  const observedKey = ascii(`,"observed":`);
  const subjectKey = ascii(`,"subject":"`);
  const TRUE = ascii("true");
  const FALSE = ascii("false");
  const NULL = ascii("null");
  const status = ascii(`","status":"`);
  const prev = ascii(`"},"prev_hash":"`);
  const recorded = ascii(`","recorded_at":"`);
  const seq = ascii(`","seq":`);
  const sig = ascii(`,"sig":{"alg":"Ed25519","key_id":"${expected.keyId}","value":"`);
  const tail = ascii(`"},"tenant_id":"${expected.tenantId}","type":"evidence_bundle","v":1}`);

  // Each reader takes the offset it starts at and returns the offset after what it read, or -1.
  const literal = (line: Buffer, at: number, text: Buffer): number => {
    const n = text.length;
    if (at < 0 || line.length - at < n) return -1;
    for (let k = 0; k < n; k++) if (line[at + k] !== text[k]) return -1;
    return at + n;
  };
  // A string's content up to its closing quote: printable ASCII, no backslash (no escape).
  const content = (line: Buffer, at: number): number => {
    if (at < 0) return -1;
    for (; at < line.length; at++) {
      const b = line[at] as number;
      if (b === 0x22) return at;
      if (b < 0x20 || b > 0x7e || b === 0x5c) return -1;
    }
    return -1;
  };
  // A non-negative integer in plain digits, no leading zero, at most 15 digits: exact, and its
  // own ECMAScript (RFC 8785 §3.2.2.3) form.
  let value = 0;
  const integer = (line: Buffer, at: number): number => {
    const from = at;
    value = 0;
    if (at < 0) return -1;
    for (; at < line.length && at - from <= 15; at++) {
      const b = line[at] as number;
      if (b < 0x30 || b > 0x39) break;
      value = value * 10 + (b - 0x30);
    }
    const digits = at - from;
    if (digits === 0 || digits > 15 || (digits > 1 && line[from] === 0x30)) return -1;
    return at;
  };
  // Check ids, finding codes and subjects, and dates repeat from line to line: each new one is
  // decided by its schema as a string once, then recognized from its bytes.
  const remembered = (test: StringTest) => {
    const values: Buffer[] = [];
    const names: string[] = [];
    const known = oneOf(values, names);
    return (line: Buffer, at: number, end: number): string | undefined => {
      const seen = known(line, at, end);
      if (seen !== undefined) return seen;
      const text = latin1(line, at, end);
      if (!test(text)) return undefined;
      if (values.length < 64) {
        values.push(ascii(text));
        names.push(text);
      }
      return text;
    };
  };
  const checkIdAt = remembered(isCheckId);
  const findingCodeAt = remembered(isFindingCode);
  const subjectAt = remembered(isSubject);
  const dates = new Set<number>();
  const isTimestampAt = (line: Buffer, at: number, end: number): boolean => {
    const date = end - at > 10 ? dateKey(line, at) : -1;
    if (date >= 0 && dates.has(date)) return isTimePart(line, at + 10, end);
    if (!isTimestamp(latin1(line, at, end))) return false;
    if (date >= 0 && dates.size < 4096) dates.add(date);
    return true;
  };
  const hex64 = (line: Buffer, at: number): number => {
    if (at < 0 || line.length - at < 64) return -1;
    for (const end = at + 64; at < end; at++) {
      const b = line[at] as number;
      if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66))) return -1;
    }
    return at;
  };

  const startsWith = (line: Buffer, at: number, text: Buffer) => literal(line, at, text) >= 0;
  // A scalar (Scalar in the schema) of the forms above; -1 for any other, e.g. a fraction.
  const scalar = (line: Buffer, at: number): number => {
    const b = line[at];
    if (b === 0x22) {
      const end = content(line, at + 1);
      return end < 0 || end - at - 1 > SCALAR_MAX ? -1 : end + 1;
    }
    if (b === 0x74) return literal(line, at, TRUE);
    if (b === 0x66) return literal(line, at, FALSE);
    if (b === 0x6e) return literal(line, at, NULL);
    return integer(line, at);
  };
  // One finding from its `{`, to after its `}`; -1 when it is not of the template's form.
  const finding = (line: Buffer, at: number): number => {
    at = literal(line, at, codeKey);
    let end = content(line, at);
    if (end < 0 || findingCodeAt(line, at, end) === undefined) return -1;
    at = end + 1;
    if (startsWith(line, at, expectedKey)) at = scalar(line, at + expectedKey.length);
    if (at >= 0 && startsWith(line, at, messageKey)) {
      at += messageKey.length;
      end = content(line, at);
      if (end < 0 || !isMessage(latin1(line, at, end))) return -1;
      at = end + 1;
    }
    if (at >= 0 && startsWith(line, at, observedKey)) at = scalar(line, at + observedKey.length);
    if (at >= 0 && startsWith(line, at, subjectKey)) {
      at += subjectKey.length;
      end = content(line, at);
      if (end < 0 || subjectAt(line, at, end) === undefined) return -1;
      at = end + 1;
    }
    return at >= 0 && line[at] === 0x7d ? at + 1 : -1;
  };
  const findings = (line: Buffer, at: number): number => {
    if (at < 0 || line[at] !== 0x7b) return at;
    for (let n = 1; n <= FINDINGS_MAX; n++) {
      at = finding(line, at);
      if (at < 0 || line[at] !== 0x2c) return at;
      at++;
    }
    return -1;
  };

  return (line, out) => {
    let at = literal(line, 0, head);
    let end = content(line, at);
    if (end < 0) return false;
    const checkId = checkIdAt(line, at, end);
    if (checkId === undefined) return false;
    at = integer(line, literal(line, end, duration));
    at = findings(line, literal(line, at, findingsOpen));
    at = literal(line, at, kind);
    end = content(line, at);
    if (end < 0 || severityAt(line, at, end) === undefined) return false;
    at = literal(line, end, status);
    end = content(line, at);
    if (end < 0) return false;
    const state = statusAt(line, at, end);
    if (state === undefined) return false;
    at = literal(line, end, prev);
    if (at < 0) return false;
    out.prevAt = at;
    at = literal(line, hex64(line, at), recorded);
    end = content(line, at);
    if (end < 0 || !isTimestampAt(line, at, end)) return false;
    out.recordedFrom = at;
    out.recordedTo = end;
    at = integer(line, literal(line, end, seq));
    if (at < 0 || value < 1) return false;
    out.seq = value;
    out.sigFrom = at + 1;
    at = literal(line, at, sig);
    if (at < 0 || !signatureInto(line, at, out.signature)) return false;
    if (literal(line, at + 88, tail) !== line.length) return false;
    // `"sig":{…}` and the comma after it: `"},"tenant_id"` starts with the object's end.
    out.sigTo = line.length - tail.length + 3;
    out.checkId = checkId;
    out.status = state;
    return true;
  };
}
