import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Baseline, type DriftCheckId, loadCatalog } from "#catalog";
import type { ExpectedHost } from "../config.ts";
import { applyDrift, type Drift } from "../host/lab/drift.ts";
import {
  cleanLabState,
  createLabHost,
  LAB_BACKUP_JOB,
  LAB_FIREWALL_BASELINE_PATH,
  LAB_LUKS_VOLUMES,
  type LabHost,
  type LabState,
} from "../host/lab/index.ts";
import type { CheckResultEvent, Host } from "../ports.ts";
import { type Clock, systemClock } from "../ports.ts";
import { createCheckRunner, type DriftCheckRunner } from "./runner.ts";
import { togglesOf } from "./support.ts";

/** Test support: the repository's baseline, a clean lab host, and the facts that match it. */
const repoRoot = resolve(import.meta.dirname, "../../..");
let baselinePromise: Promise<Baseline> | undefined;
export const repoBaseline = () => {
  baselinePromise ??= loadCatalog(repoRoot).then((c) => c.baseline);
  return baselinePromise;
};

export const RESTORE_TEST_DIR = "/var/lib/compliance-agent/restore-tests";

/** The config `host` facts of the clean lab appliance built from `state`. */
export function labExpected(state: LabState): ExpectedHost {
  const current = state.nixos.generations.find((g) => g.number === state.nixos.current);
  return {
    ...(current ? { expected_system: current.system } : {}),
    backup_jobs: [LAB_BACKUP_JOB],
    luks_volumes: [...LAB_LUKS_VOLUMES],
    firewall_ruleset_path: LAB_FIREWALL_BASELINE_PATH,
  };
}

export interface LabCheckWorld {
  readonly host: LabHost;
  readonly clean: LabState;
  readonly runner: DriftCheckRunner;
  run(id: DriftCheckId): Promise<CheckResultEvent>;
}

/** A lab host with `drifts` applied to the clean state, and a runner over it. */
export async function labCheckWorld(
  options: {
    drifts?: Drift[];
    now?: Date;
    expected?: Partial<ExpectedHost>;
    baseline?: Baseline | null;
    host?: (lab: LabHost) => Host;
    clock?: Clock;
    checkTimeoutMs?: number;
    toolTimeoutMs?: number;
  } = {},
): Promise<LabCheckWorld> {
  const now = options.now ?? new Date();
  const clean = cleanLabState(now);
  const state = (options.drifts ?? []).reduce((s, d) => applyDrift(s, d, now), clean);
  const host = createLabHost({
    state,
    restoreTestDir: RESTORE_TEST_DIR,
    clock: options.clock ?? systemClock,
  });
  const baseline =
    options.baseline === null ? undefined : (options.baseline ?? (await repoBaseline()));
  const runner = createCheckRunner({
    host: options.host ? options.host(host) : host,
    baseline,
    expected: { ...labExpected(clean), ...options.expected },
    restoreTestDir: RESTORE_TEST_DIR,
    clock: options.clock ?? systemClock,
    checkTimeoutMs: options.checkTimeoutMs ?? 5000,
    toolTimeoutMs: options.toolTimeoutMs ?? 2000,
  });
  const signal = new AbortController().signal;
  return { host, clean, runner, run: (id) => runner.runOne(id, signal) };
}

/** A clock whose sleep returns at once (the logging canary's waits), time standing still. */
export const instantClock: Clock = {
  now: () => new Date(),
  sleep: () => new Promise((r) => setImmediate(r)),
};

/** The baseline toggles naming `check` and one of `findings`. */
export function togglesFor(baseline: Baseline, check: DriftCheckId, findings: readonly string[]) {
  return togglesOf(baseline, check).filter((t) => findings.includes(t.check.finding));
}

/** A host answering `program` with a recorded output (a fixture) and the lab for the rest. */
export function withOutput(
  program: string,
  output: { stdout: string; code?: number; stderr?: string },
): (lab: LabHost) => Host {
  return (lab) => ({
    ...lab,
    exec: (request) =>
      request.argv[0] === program
        ? Promise.resolve({
            kind: "exited",
            code: output.code ?? 0,
            stdout: output.stdout,
            stderr: output.stderr ?? "",
            truncated: false,
          })
        : lab.exec(request),
  });
}

/** A fixture of the calling check's folder. */
export const fixture = (checkDir: string, name: string) =>
  readFileSync(join(checkDir, "fixtures", name), "utf8");
