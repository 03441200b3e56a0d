import type { Baseline } from "#catalog";
import { DRIFT_CHECK_IDS, type DriftCheckId, isDeclaredFinding } from "#catalog";
import { type Finding, type Severity, sha256Hex } from "#protocol";
import { clip } from "../clip.ts";
import type { ExpectedHost } from "../config.ts";
import { describeError } from "../log.ts";
import type { CheckResultEvent, CheckRunner, Clock, Host } from "../ports.ts";
import type { CheckContext, CheckOutcome, DriftCheck, PreState } from "./contract.ts";
import { CHECKS } from "./registry.ts";
import { togglesOf } from "./support.ts";

export interface CheckRunnerOptions {
  readonly host: Host;
  readonly baseline: Baseline | undefined;
  readonly expected: ExpectedHost;
  readonly restoreTestDir: string;
  readonly clock: Clock;
  /** Each check is cut off after this long, whatever it is doing. */
  readonly checkTimeoutMs: number;
  /** Each tool a check runs is killed after this long. */
  readonly toolTimeoutMs: number;
  /** The checks to run (tests); the six of the registry by default. */
  readonly checks?: Partial<{ readonly [Id in DriftCheckId]: DriftCheck<Id> }>;
}

export interface DriftCheckRunner extends CheckRunner {
  /** All checks at once, each isolated with its own timeout; in DRIFT_CHECK_IDS order. */
  runAll(signal: AbortSignal): Promise<readonly CheckResultEvent[]>;
  /** One check on demand (the healer's verification steps). */
  runOne(id: DriftCheckId, signal: AbortSignal): Promise<CheckResultEvent>;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/**
 * Runs the drift checks and turns each outcome into `check_result` evidence with its HIPAA
 * citations and the observed pre-state. A check that throws, hangs past its timeout or reports
 * a finding its catalog entry does not declare becomes an `error` result; it never stops the
 * others and is never a pass.
 */
export function createCheckRunner(options: CheckRunnerOptions): DriftCheckRunner {
  const checks = options.checks ?? CHECKS;
  const ids = DRIFT_CHECK_IDS.filter((id) => checks[id] !== undefined);

  async function runOne(id: DriftCheckId, signal: AbortSignal): Promise<CheckResultEvent> {
    const check = checks[id] as DriftCheck | undefined;
    if (!check) throw new Error(`no drift check ${id}`);
    const started = performance.now();
    const timeout = AbortSignal.timeout(options.checkTimeoutMs);
    const checkSignal = AbortSignal.any([signal, timeout]);
    const context: CheckContext = {
      baseline: options.baseline,
      expected: options.expected,
      restoreTestDir: options.restoreTestDir,
      now: () => options.clock.now(),
      sleep: (ms, s) => options.clock.sleep(ms, s ?? checkSignal),
      signal: checkSignal,
      toolTimeoutMs: Math.min(options.toolTimeoutMs, options.checkTimeoutMs),
    };
    let outcome: CheckOutcome;
    try {
      outcome = await untilAborted(check.run(options.host, context), checkSignal);
    } catch (error) {
      const why = timeout.aborted
        ? `did not finish within ${options.checkTimeoutMs} ms`
        : signal.aborted
          ? "stopped before it finished"
          : `failed: ${describeError(error)}`;
      outcome = { status: "error", reason: `${id} ${why}` };
    }
    return toEvidence(check, outcome, options.baseline, performance.now() - started);
  }

  async function runAll(signal: AbortSignal): Promise<readonly CheckResultEvent[]> {
    return Promise.all(ids.map((id) => runOne(id, signal)));
  }

  return { runAll, runOne, run: runAll };
}

/** Rejects as soon as `signal` aborts, even if `work` never settles (a check ignoring it). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** NaN and ±Infinity are not JSON numbers: they are recorded as their names. */
const clipScalar = (v: Finding["observed"]) =>
  typeof v === "string"
    ? clip(v, 512)
    : typeof v === "number" && !Number.isFinite(v)
      ? String(v)
      : v;

function toEvidence(
  check: DriftCheck,
  raw: CheckOutcome,
  baseline: Baseline | undefined,
  durationMs: number,
): CheckResultEvent {
  let outcome = raw;
  if (outcome.status === "drift") {
    const undeclared = outcome.findings.find((f) => !isDeclaredFinding(check.id, f.code));
    if (undeclared) {
      outcome = {
        status: "error",
        reason: `${check.id} reported undeclared finding ${undeclared.code}`,
      };
    }
  }
  const findings: Finding[] =
    outcome.status === "drift"
      ? outcome.findings.slice(0, 64).map((f) => ({
          code: f.code,
          ...(f.subject !== undefined ? { subject: clip(f.subject, 256) } : {}),
          ...(f.expected !== undefined ? { expected: clipScalar(f.expected) } : {}),
          ...(f.observed !== undefined ? { observed: clipScalar(f.observed) } : {}),
          ...(f.message !== undefined ? { message: clip(f.message, 500) } : {}),
        }))
      : [];
  // Drift carries the citations and highest severity of the toggles its findings break.
  const toggles = baseline ? findings.flatMap((f) => togglesOf(baseline, check.id, f.code)) : [];
  const citations =
    toggles.length > 0
      ? [...new Set(toggles.flatMap((t) => t.citations))].sort()
      : [...check.citations];
  const severity = toggles.reduce<Severity>(
    (worst, t) => (SEVERITY_RANK[t.severity] > SEVERITY_RANK[worst] ? t.severity : worst),
    toggles.length > 0 ? "low" : check.severity,
  );
  const state: PreState | undefined = outcome.state;
  return {
    kind: "check_result",
    check_id: check.id,
    status: outcome.status,
    severity,
    findings,
    duration_ms: Math.round(durationMs * 100) / 100,
    citations: citations.slice(0, 32),
    ...("reason" in outcome ? { reason: clip(outcome.reason, 500) } : {}),
    ...(state ? { pre_state: preState(state) } : {}),
  };
}

/** The protocol's limits on a pre-state (EvidenceEvent check_result `pre_state`). */
const PRE_STATE_KEY_MAX = 128;
const PRE_STATE_ENTRIES_MAX = 64;
/** Hex digits of SHA-256 that stand for the part of a key cut off or rewritten. */
const KEY_HASH_DIGITS = 16;

export function preState(state: PreState): PreState {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(state).slice(0, PRE_STATE_ENTRIES_MAX)) {
    let key = stateKey(k);
    // Two names that read alike once rewritten (or cut) keep apart by the hash of the original.
    if (Object.hasOwn(out, key)) key = hashedKey(key, k);
    out[key] = clipScalar(v) ?? null;
  }
  return out;
}

/**
 * A name the protocol accepts, the same for the same name on every run: characters outside its
 * alphabet become "_", a first character that is not a letter becomes "x", and a name longer than
 * 128 characters (a deep mount path) keeps its first characters and ends with a hash of the whole.
 */
export function stateKey(name: string): string {
  const key = name.replace(/[^a-zA-Z0-9_.@:/-]/g, "_").replace(/^(?:[^a-zA-Z]|$)/, "x");
  return key.length > PRE_STATE_KEY_MAX ? hashedKey(key, name) : key;
}

function hashedKey(key: string, name: string): string {
  const digest = sha256Hex(new TextEncoder().encode(name)).slice(0, KEY_HASH_DIGITS);
  return `${key.slice(0, PRE_STATE_KEY_MAX - KEY_HASH_DIGITS - 1)}@${digest}`;
}

/**
 * Runs the checks only every `intervalMs` (config healing.check_interval_s), measured on the
 * agent's clock; in between, the loop's cycles record nothing.
 */
export function everyInterval(runner: CheckRunner, intervalMs: number, clock: Clock): CheckRunner {
  let lastAt: number | undefined;
  return {
    async run(signal) {
      const now = clock.now().getTime();
      if (lastAt !== undefined && now - lastAt < intervalMs) return [];
      lastAt = now;
      return runner.run(signal);
    },
  };
}
