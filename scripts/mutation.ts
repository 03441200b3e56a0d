/**
 * Mutation testing (StrykerJS with its vitest runner) of the security-bearing code, one area at
 * a time, each against its own tests; prints the score per area as JSON. A benchmark, not part of
 * `npm test`:
 *   npm run mutation                 (every area)
 *   npm run mutation -- protocol     (the named areas)
 * Sized for a small shared machine: two test-runner processes, per-test coverage (a mutant runs
 * only the tests that reach it), and incremental mode (reports/mutation/<area>.incremental.json,
 * git-ignored): a second run retests only mutants whose code or tests changed. The full report
 * of each area lands in reports/mutation/<area>.json. Survivors are listed in docs/reliability.md.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Stryker } from "@stryker-mutator/core";

const root = join(import.meta.dirname, "..");

export interface MutationArea {
  readonly name: string;
  /** The files mutated (globs; tests are never mutated). */
  readonly mutate: readonly string[];
  /** The tests run against each mutant. */
  readonly tests: readonly string[];
}

export const MUTATION_AREAS: readonly MutationArea[] = [
  {
    name: "protocol",
    mutate: ["protocol/**/*.ts", "!protocol/**/*.test.ts", "!protocol/testing/**"],
    tests: ["protocol/**/*.test.ts"],
  },
  {
    name: "verifier",
    mutate: ["verifier/**/*.ts", "!verifier/**/*.test.ts", "!verifier/testing/**"],
    tests: ["verifier/**/*.test.ts"],
  },
  {
    name: "agent",
    mutate: ["agent/src/orders.ts", "agent/src/push.ts", "agent/src/journal.ts"],
    tests: [
      "agent/src/orders.test.ts",
      "agent/src/journal.test.ts",
      "agent/src/evidence-schema.test.ts",
      "agent/src/outage.test.ts",
      "agent/src/agent.test.ts",
    ],
  },
  {
    name: "control-plane",
    mutate: [
      "control-plane/src/middleware/appliance-identity/index.ts",
      "control-plane/src/middleware/operator-session/index.ts",
      "control-plane/src/middleware/admin-auth/index.ts",
      "control-plane/src/operator/sign-in.ts",
      "control-plane/src/routes/appliance/enroll.ts",
      "control-plane/src/routes/appliance/identity.ts",
      "control-plane/src/planner/guardrails.ts",
      "control-plane/src/planner/candidates.ts",
    ],
    tests: [
      "control-plane/src/attacks.test.ts",
      "control-plane/src/enroll-attacks.test.ts",
      "control-plane/src/expiry-checks.test.ts",
      "control-plane/src/cert-validity.test.ts",
      "control-plane/src/planner/l3-only.test.ts",
      "control-plane/src/sign-in-throttle.test.ts",
      "control-plane/src/routes/operator.test.ts",
      "control-plane/src/transport.test.ts",
      "control-plane/src/planner/guardrails.test.ts",
      "control-plane/src/jobs/expiry.test.ts",
    ],
  },
];

export interface AreaScore {
  readonly area: string;
  readonly mutants: number;
  readonly killed: number;
  readonly survived: number;
  readonly timeout: number;
  readonly no_coverage: number;
  readonly errors: number;
  /** (killed + timeout) / (killed + timeout + survived + no coverage), as Stryker counts it. */
  readonly score: number;
  readonly seconds: number;
}

export async function runArea(area: MutationArea): Promise<AreaScore> {
  const reports = join(root, "reports", "mutation");
  mkdirSync(reports, { recursive: true });
  process.env.MUTATION_TESTS = area.tests.join(",");
  const started = performance.now();
  const results = await new Stryker({
    mutate: [...area.mutate],
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "vitest.mutation.config.ts", related: false },
    coverageAnalysis: "perTest",
    concurrency: 2,
    timeoutMS: 30_000,
    ignoreStatic: true,
    incremental: true,
    incrementalFile: join(reports, `${area.name}.incremental.json`),
    reporters: ["json", "progress"],
    jsonReporter: { fileName: join(reports, `${area.name}.json`) },
    tempDirName: join(".stryker-tmp", area.name),
    cleanTempDir: true,
  }).runMutationTest();
  const count = (...statuses: string[]) =>
    results.filter((r) => statuses.includes(r.status)).length;
  const killed = count("Killed");
  const timeout = count("Timeout");
  const survived = count("Survived");
  const noCoverage = count("NoCoverage");
  const detected = killed + timeout;
  const valid = detected + survived + noCoverage;
  return {
    area: area.name,
    mutants: results.length,
    killed,
    survived,
    timeout,
    no_coverage: noCoverage,
    errors: count("CompileError", "RuntimeError"),
    score: valid === 0 ? 1 : Math.round((detected / valid) * 10_000) / 10_000,
    seconds: Math.round((performance.now() - started) / 1000),
  };
}

if (import.meta.main) {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !MUTATION_AREAS.some((a) => a.name === w));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown area ${unknown.join(", ")}; areas: ${MUTATION_AREAS.map((a) => a.name).join(", ")}\n`,
    );
    process.exit(2);
  }
  const areas = MUTATION_AREAS.filter((a) => wanted.length === 0 || wanted.includes(a.name));
  const scores: AreaScore[] = [];
  for (const area of areas) scores.push(await runArea(area));
  process.stdout.write(`${JSON.stringify({ mutation: scores }, null, 2)}\n`);
}
