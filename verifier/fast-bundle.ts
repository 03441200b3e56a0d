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

/** A predicate equal to a zod string schema made of regex, datetime and length checks only. */
export function stringTest(schema: z.ZodType): StringTest {
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
  // The tenant, appliance and key ids repeat on every line: remember the last accepted value.
  let accepted: string | undefined;
  return (value) => {
    if (value === accepted) return true;
    if (typeof value !== "string" || value.length < min || value.length > max) return false;
    for (const p of patterns) if (!p.test(value)) return false;
    accepted = value;
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

const isTenantId = stringTest(TenantId);
const isApplianceId = stringTest(ApplianceId);
const isSha256Hex = stringTest(Sha256Hex);
const isTimestamp = stringTest(Timestamp);
const isCheckId = stringTest(cr.check_id as z.ZodType);
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

// Scalar: z.union([z.string().max(512), z.number(), z.boolean(), z.null()]).
const isScalar = (v: unknown) =>
  v === null ||
  typeof v === "boolean" ||
  (typeof v === "number" && Number.isFinite(v)) ||
  (typeof v === "string" && v.length <= 512);

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
  if (!Array.isArray(findings) || findings.length > 64) return false;
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
  sigValue: string;
  recordedAt: string;
  checkId: string;
  status: string;
}

const ascii = (text: string) => Buffer.from(text, "latin1");

/**
 * The fast path without JSON.parse, for the commonest line of all: a check_result with no
 * findings and none of the optional members, of the export's own tenant, appliance and key. The
 * line must be byte for byte this template, every string printable ASCII without an escape and
 * matching its schema pattern, every number plain digits (so the text is its own RFC 8785 form):
 *
 *   {"appliance_id":A,"event":{"check_id":C,"duration_ms":D,"findings":[],"kind":"check_result",
 *    "severity":S,"status":S},"prev_hash":H,"recorded_at":T,"seq":N,"sig":{"alg":"Ed25519",
 *    "key_id":K,"value":V},"tenant_id":X,"type":"evidence_bundle","v":1}
 *
 * Anything else (undefined) goes to isCanonicalCheckResultBundle or the slow path, which decide
 * and name the problem; fast-bundle.test.ts holds this one to the slow path like the other.
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
  const kind = ascii(`,"findings":[],"kind":"check_result","severity":"`);
  const status = ascii(`","status":"`);
  const prev = ascii(`"},"prev_hash":"`);
  const recorded = ascii(`","recorded_at":"`);
  const seq = ascii(`","seq":`);
  const sig = ascii(`,"sig":{"alg":"Ed25519","key_id":"${expected.keyId}","value":"`);
  const tail = ascii(`"},"tenant_id":"${expected.tenantId}","type":"evidence_bundle","v":1}`);

  let at = 0;
  const literal = (line: Buffer, text: Buffer): boolean => {
    if (line.length - at < text.length || line.compare(text, 0, text.length, at, at + text.length))
      return false;
    at += text.length;
    return true;
  };
  // A string's content up to its closing quote: printable ASCII, no backslash (no escape).
  const content = (line: Buffer): number => {
    const from = at;
    for (; at < line.length; at++) {
      const b = line[at] as number;
      if (b === 0x22) return from;
      if (b < 0x20 || b > 0x7e || b === 0x5c) return -1;
    }
    return -1;
  };
  const text = (line: Buffer): string | undefined => {
    const from = content(line);
    return from < 0 ? undefined : line.toString("latin1", from, at);
  };
  // A non-negative integer in plain digits, no leading zero, at most 15 digits: exact, and its
  // own ECMAScript (RFC 8785 §3.2.2.3) form.
  const integer = (line: Buffer): number => {
    const from = at;
    let value = 0;
    for (; at < line.length && at - from <= 15; at++) {
      const b = line[at] as number;
      if (b < 0x30 || b > 0x39) break;
      value = value * 10 + (b - 0x30);
    }
    const digits = at - from;
    if (digits === 0 || digits > 15 || (digits > 1 && line[from] === 0x30)) return -1;
    return value;
  };
  const hex64 = (line: Buffer): boolean => {
    if (line.length - at < 64) return false;
    for (let end = at + 64; at < end; at++) {
      const b = line[at] as number;
      if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66))) return false;
    }
    return true;
  };

  return (line, out) => {
    at = 0;
    if (!literal(line, head)) return false;
    const checkId = text(line);
    if (checkId === undefined || !isCheckId(checkId) || !literal(line, duration)) return false;
    if (integer(line) < 0 || !literal(line, kind)) return false;
    const severity = text(line);
    if (severity === undefined || !SEVERITY.has(severity) || !literal(line, status)) return false;
    const state = text(line);
    if (state === undefined || !STATUS.has(state) || !literal(line, prev)) return false;
    out.prevAt = at;
    if (!hex64(line) || !literal(line, recorded)) return false;
    const recordedAt = text(line);
    if (recordedAt === undefined || !isTimestamp(recordedAt) || !literal(line, seq)) return false;
    const n = integer(line);
    if (n < 1) return false;
    out.sigFrom = at + 1;
    if (!literal(line, sig)) return false;
    const value = text(line);
    if (value === undefined || !isSigValue(value) || !literal(line, tail)) return false;
    if (at !== line.length) return false;
    // `"sig":{…}` and the comma after it: `"},"tenant_id"` starts with the object's end.
    out.sigTo = line.length - tail.length + 3;
    out.seq = n;
    out.sigValue = value;
    out.recordedAt = recordedAt;
    out.checkId = checkId;
    out.status = state;
    return true;
  };
}
