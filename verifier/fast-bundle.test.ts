import { describe, expect, it } from "vitest";
import {
  canonicalize,
  createSigner,
  EvidenceBundle,
  type EvidenceEvent,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  sealBundle,
} from "../protocol/index.ts";
import {
  emptyPlainCheckResult,
  isCanonicalCheckResultBundle,
  plainCheckResultScanner,
} from "./fast-bundle.ts";

/**
 * The fast path must never accept what the slow path (the full RFC 8785 re-serialization and the
 * zod schema) refuses, and must accept every canonical, valid check_result line without a `\u`
 * escape, so that the hot path is the fast one. Both are checked on valid bundles and on
 * several thousand deterministic mutations of them.
 */
const signer = createSigner(generateEd25519KeyPair().privateKey);

function slowAccepts(line: string, raw: unknown): boolean {
  let canonical: string;
  try {
    canonical = canonicalize(raw);
  } catch {
    return false;
  }
  return canonical === line && EvidenceBundle.safeParse(raw).success;
}

// A small deterministic PRNG (mulberry32), so a failure reproduces.
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS: EvidenceEvent[] = [
  {
    kind: "check_result",
    check_id: "patching",
    status: "pass",
    severity: "medium",
    findings: [],
    duration_ms: 12,
  },
  {
    kind: "check_result",
    check_id: "disk-encryption",
    status: "drift",
    severity: "high",
    findings: [
      { code: "unit_inactive", subject: "chronyd.service", expected: "active", observed: "failed" },
      { code: "count_low", expected: 3, observed: 0.5, message: "é ü 漢字 🙂" },
      { code: "flag", expected: true, observed: null },
    ],
    duration_ms: 0.25,
    citations: ["45 CFR 164.312(a)(2)(iv)", "45 CFR 164.308(a)(1)"],
    reason: "a reason",
    pre_state: { "Unit@x.service": "active", count: 3, "path/to:file": true, zeta: null },
  },
  {
    kind: "check_result",
    check_id: "backups",
    status: "error",
    severity: "critical",
    findings: [{ code: "no_snapshot" }],
    duration_ms: 1e21,
    reason: "",
  },
  {
    kind: "check_result",
    check_id: "services",
    status: "drift",
    severity: "low",
    findings: [
      { code: "unit_inactive", subject: "chronyd.service", expected: "active", observed: "failed" },
      { code: "count_low", expected: 3, message: "too few: [1], {2}", observed: 0 },
      { code: "flag", expected: true, observed: null },
      { code: "flag_off", expected: false, subject: "" },
      { code: "no_snapshot" },
    ],
    duration_ms: 7,
  },
];

function bundleOf(event: EvidenceEvent, recordedAt = "2026-11-01T00:00:10.000Z") {
  return sealBundle(
    { tenant_id: "clinic-a", appliance_id: "clinic-a-01", recorded_at: recordedAt, event },
    GENESIS_HEAD,
    signer,
  ).bundle;
}

const VALID = [
  ...EVENTS.map((e) => bundleOf(e)),
  bundleOf(EVENTS[0] as EvidenceEvent, "2028-02-29T23:59:59Z"),
  bundleOf({ ...(EVENTS[0] as EvidenceEvent), duration_ms: 0 } as EvidenceEvent),
];

const scanPlain = plainCheckResultScanner({
  tenantId: "clinic-a",
  applianceId: "clinic-a-01",
  keyId: signer.keyId,
});
const scanned = emptyPlainCheckResult;

/** The byte-level scan of `line`, checked against the parsed line when it accepts. */
function plainAccepts(line: string): boolean {
  const bytes = Buffer.from(line, "utf8");
  const out = scanned();
  if (!scanPlain(bytes, out)) return false;
  const raw = JSON.parse(line) as EvidenceBundle & { event: { check_id: string; status: string } };
  const { sig: _sig, ...unsigned } = raw;
  const signed = Buffer.concat([bytes.subarray(0, out.sigFrom), bytes.subarray(out.sigTo)]);
  expect(signed.toString("utf8")).toBe(canonicalize(unsigned));
  expect(bytes.subarray(out.prevAt, out.prevAt + 64).toString("latin1")).toBe(raw.prev_hash);
  expect(Buffer.from(out.signature).toString("base64")).toBe(raw.sig.value);
  expect(bytes.toString("latin1", out.recordedFrom, out.recordedTo)).toBe(raw.recorded_at);
  expect(out).toMatchObject({
    seq: raw.seq,
    checkId: raw.event.check_id,
    status: raw.event.status,
  });
  return true;
}

const REPLACEMENTS: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  2 ** 53,
  1e21,
  "",
  "x",
  "X".repeat(65),
  "y".repeat(129),
  "z".repeat(501),
  "w".repeat(513),
  "2026-02-30T00:00:00Z",
  "2026-11-01T00:00:10+01:00",
  "0".repeat(64),
  "A".repeat(64),
  "45 CFR 164.312(a)",
  "RB-X-001-y",
  "pass",
  "low",
  "check_result",
  "Ed25519",
  "evidence_bundle",
  [],
  [1],
  ["45 CFR 164.312(a)"],
  {},
  { code: "x" },
  Array.from({ length: 65 }, () => ({ code: "x" })),
  Array.from({ length: 33 }, () => "45 CFR 164.312(a)"),
  Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])),
];

/** Every path to a value inside `value`, as key lists. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const own = Array.isArray(value)
    ? value.map((_, i) => i)
    : Object.keys(value as Record<string, unknown>);
  return [
    prefix,
    ...own.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k])),
  ];
}

function withValue(root: unknown, path: (string | number)[], replace: (v: unknown) => unknown) {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  if (path.length === 0) return replace(copy);
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  const next = replace(at[last]);
  if (next === undefined) delete at[last];
  else at[last] = next;
  return copy;
}

/** The canonical line of a value, or none when it has no canonical form (a hole, undefined). */
function* canonicalOf(value: unknown): Generator<string> {
  try {
    yield canonicalize(value);
  } catch {
    // nobody can write such a value as a canonical line
  }
}

/** Lines derived from a valid bundle: value mutations (as canonical and as plain JSON text) and text mutations. */
function* mutations(bundle: EvidenceBundle, random: () => number): Generator<string> {
  for (const path of paths(bundle)) {
    for (const replacement of REPLACEMENTS) {
      yield* canonicalOf(withValue(bundle, path, () => replacement));
    }
    yield* canonicalOf(withValue(bundle, path, () => undefined));
    const parent = path.slice(0, -1);
    yield JSON.stringify(
      withValue(bundle, parent, (o) =>
        typeof o === "object" && o !== null && !Array.isArray(o) ? { extra: 1, ...o } : o,
      ),
    );
    yield* canonicalOf(
      withValue(bundle, parent, (o) =>
        typeof o === "object" && o !== null && !Array.isArray(o) ? { ...o, zzz_extra: 1 } : o,
      ),
    );
  }
  const line = canonicalize(bundle);
  yield `${line}\r`;
  yield ` ${line}`;
  yield line.replace(",", ", ");
  yield line.replace('"v":1', '"v":1.0');
  yield line.replace('"v":1', '"v":1e0');
  yield line.replace('"seq":1', '"seq":1,"seq":1');
  yield line.replace('"seq":1', '"seq":2,"seq":1');
  yield line.replace('{"appliance_id"', '{"__proto__":{},"appliance_id"');
  yield line.replace('"kind":"check_result"', '"__proto__":null,"kind":"check_result"');
  yield line.replace('"findings":[', '"findings":[{"__proto__":{},"code":"a"},');
  yield line.replace("clinic-a", "clinic\\u002da");
  yield line.replace("clinic-a", "clinic\\ud800a");
  yield line.replace('"sig":{', '"sig":{"alg":"Ed25519"},"sig":{');
  yield line.replace('"tenant_id"', '"tenant_id":"x","tenant_id"');
  yield JSON.stringify(bundle);
  yield JSON.stringify(bundle, null, 1);
  // Random swaps of two characters and random deletions.
  for (let n = 0; n < 200; n++) {
    const i = Math.floor(random() * line.length);
    const j = Math.floor(random() * line.length);
    const chars = [...line];
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
    yield chars.join("");
    yield line.slice(0, i) + line.slice(i + 1);
  }
}

describe("the verifier's fast path for check_result bundles", () => {
  it("accepts every valid canonical check_result line (the slow path agrees)", () => {
    for (const bundle of VALID) {
      const line = canonicalize(bundle);
      expect(slowAccepts(line, JSON.parse(line))).toBe(true);
      expect(isCanonicalCheckResultBundle(line, JSON.parse(line))).toBe(true);
    }
  });

  it("never accepts what the slow path refuses, and agrees with it on every check_result line", () => {
    const random = prng(19);
    let tried = 0;
    let slowYes = 0;
    let plain = 0;
    for (const bundle of VALID) {
      for (const line of mutations(bundle, random)) {
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          // Not JSON at all: the byte scan, which never parses, must refuse it too.
          if (scanPlain(Buffer.from(line, "utf8"), scanned())) {
            throw new Error(`byte scan accepted a line that is not JSON: ${line}`);
          }
          continue;
        }
        tried++;
        const slow = slowAccepts(line, raw);
        const fast = isCanonicalCheckResultBundle(line, JSON.parse(line));
        if (slow) slowYes++;
        if (fast && !slow)
          throw new Error(`fast path accepted what the slow path refuses: ${line}`);
        if (plainAccepts(line)) {
          plain++;
          if (!slow) throw new Error(`byte scan accepted what the slow path refuses: ${line}`);
        }
        const hot =
          slow &&
          (raw as { event: { kind: string } }).event.kind === "check_result" &&
          !line.includes("\\u");
        if (hot && !fast) throw new Error(`fast path refused a valid check_result line: ${line}`);
      }
    }
    expect(tried).toBeGreaterThan(4000);
    // The mutations include valid bundles too (e.g. another valid status), not only broken ones.
    expect(slowYes).toBeGreaterThan(50);
    // Among them lines with findings of every scalar form, read by the byte scanner.
    expect(plain).toBeGreaterThan(200);
  });

  it("reads the commonest line from its bytes: a plain check_result of the export's own ids", () => {
    const plainLines = VALID.map((b) => canonicalize(b)).filter((l) => l.includes('"findings":[]'));
    expect(plainLines.length).toBeGreaterThanOrEqual(3);
    // Findings of ASCII text, true, false, null and plain digits are read from bytes too.
    expect(plainAccepts(canonicalize(VALID[3] as EvidenceBundle))).toBe(true);
    for (const line of plainLines) {
      const isPlain = !/"(citations|pre_state|reason)"/.test(line);
      expect(plainAccepts(line)).toBe(isPlain);
    }
    const line = plainLines[0] as string;
    // Another tenant, appliance or key, a CR, a leading zero, an escape: not read here.
    for (const other of [
      line.replace('"tenant_id":"clinic-a"', '"tenant_id":"clinic-b"'),
      line.replace('"appliance_id":"clinic-a-01"', '"appliance_id":"clinic-a-02"'),
      line.replace(signer.keyId, "0".repeat(64)),
      `${line}\r`,
      line.replace('"seq":1', '"seq":01'),
      line.replace('"duration_ms":12', '"duration_ms":012'),
      line.replace('"check_id":"patching"', '"check_id":"patch\\u0069ng"'),
      line.replace('"status":"pass"', '"status":"PASS"'),
    ]) {
      expect(plainAccepts(other), other).toBe(false);
    }
    // Ids the schemas refuse never reach a byte comparison.
    const refuse = plainCheckResultScanner({ tenantId: "Clinic A", applianceId: "a", keyId: "k" });
    expect(refuse(Buffer.from(line), scanned())).toBe(false);
  });

  it("reads timestamps and signatures from bytes exactly as their schema patterns do", () => {
    const line = canonicalize(VALID[0] as EvidenceBundle);
    const raw = JSON.parse(line) as EvidenceBundle;
    const times = [
      raw.recorded_at,
      "2026-11-01T23:59:59Z",
      "2026-11-01T00:00:00.5Z",
      "2026-11-01T19:59:59.1234567Z",
      "2026-11-01T24:00:00Z",
      "2026-11-01T29:59:59Z",
      "2026-11-01T23:60:00Z",
      "2026-11-01T23:59:60Z",
      "2026-11-01T9:59:59Z",
      "2026-11-01T19:5:59Z",
      "2026-11-01T1a:59:59Z",
      "2026-11-01T19:59:59.Z",
      "2026-11-01T19:59:59z",
      "2026-11-01t19:59:59Z",
      "2026-11-01T19:59:59",
      "2026-11-01T19:59:59ZZ",
      "2026-11-01T19:59:59.5+00:00",
      "2026-11-01 19:59:59Z",
      "2026/11/01T19:59:59Z",
      "2027-02-29T00:00:00Z",
      "2028-02-29T00:00:00Z",
      "2100-02-29T00:00:00Z",
      "2000-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-31T00:00:00Z",
      "2026-11-00T00:00:00Z",
    ];
    const sig = raw.sig.value;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const signatures = [
      ...[...alphabet].map((c) => `${sig.slice(0, 85)}${c}==`),
      `${sig.slice(0, 84)}=A==`,
      `${sig.slice(0, 86)}=`,
      `${sig.slice(0, 86)}===`,
      `${sig.slice(0, 86)}A=`,
      `-${sig.slice(1)}`,
      `${sig.slice(0, 40)}_${sig.slice(41)}`,
      `${sig.slice(0, 40)}.${sig.slice(41)}`,
      `${sig.slice(1)}A`,
    ];
    let accepted = 0;
    // Twice each: the first sight of a date is decided as a string, later ones from bytes.
    for (const variant of [
      ...times.flatMap((t) => [t, t]).map((t) => line.replace(raw.recorded_at, t)),
      ...signatures.map((v) => line.replace(sig, v)),
    ]) {
      const slow = slowAccepts(variant, JSON.parse(variant));
      expect(plainAccepts(variant), variant).toBe(slow);
      if (slow) accepted++;
    }
    // The line's own time, three other valid times, 2028-02-29 and 2000-02-29, each twice; the
    // four signatures ending in A, Q, g or w.
    expect(accepted).toBe(2 * 6 + 4);
  });

  it("leaves other event kinds to the slow path", () => {
    const line = canonicalize(
      bundleOf({
        kind: "incident_opened",
        incident_id: crypto.randomUUID(),
        check_id: "backups",
        severity: "low",
      }),
    );
    expect(slowAccepts(line, JSON.parse(line))).toBe(true);
    expect(isCanonicalCheckResultBundle(line, JSON.parse(line))).toBe(false);
  });
});
