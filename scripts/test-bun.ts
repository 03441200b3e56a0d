/**
 * The agent's tests on Bun (the pinned npm package), run by `npm test` after the Node run:
 *   npm run test:bun
 *
 * 1. The agent's own suite (agent/) under vitest running on Bun: the agent's code, the test
 *    control plane and every agent process a test spawns (process.execPath) run on Bun.
 *    vitest's forks pool needs child_process IPC that Bun lacks, so it uses the threads pool.
 * 2. The end-to-end tests (e2e/), the shipped bundle's test and the system-call filter test
 *    under vitest on Node with AGENT_RUNTIME=bun: the real control plane, the auditor's verifier and the test's own
 *    checks stay on Node; every agent process (bundle or entry point) runs on Bun with its flags.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { agentRuntime } from "./agent-runtime.ts";

const root = join(import.meta.dirname, "..");
const vitest = join(
  createRequire(import.meta.url).resolve("vitest/package.json"),
  "..",
  "vitest.mjs",
);
const bun = agentRuntime("bun");
const env = { ...process.env, AGENT_RUNTIME: "bun" };

const runs: { name: string; command: string; args: string[] }[] = [
  {
    name: "agent suite on Bun",
    command: bun.command,
    args: ["--bun", vitest, "run", "--pool=threads", "agent/"],
  },
  {
    name: "end-to-end tests with the agent on Bun",
    command: process.execPath,
    args: [
      vitest,
      "run",
      "e2e/",
      "scripts/build-agent.test.ts",
      "nix/ci/system-call-filter.test.ts",
    ],
  },
];

for (const run of runs) {
  process.stdout.write(`\n[test:bun] ${run.name}\n`);
  const result = spawnSync(run.command, run.args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(
      `[test:bun] ${run.name} failed (exit ${result.status ?? result.signal})\n`,
    );
    process.exit(1);
  }
}
