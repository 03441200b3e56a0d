import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import { linuxHost } from "../host/linux.ts";
import { describeError, jsonLogger } from "../log.ts";
import { subcommandArgs } from "../subcommand-args.ts";
import { runRestoreTest } from "./restore-test.ts";

const HELP = `compliance-agent restore-test: the weekly test restore of one backup job (root)

Usage: node agent.mjs restore-test --config PATH --instance <files>-<job>

  --config PATH       the agent's JSON config (host.backup_jobs, state_dir, step_timeout_s)
  --instance F-JOB    restore F random files of JOB's latest snapshot (the unit's %i)

Run by compliance-restore-test@<files>-<job>.service. Exit 0: passed; 1: failed (recorded);
2: refused (bad instance, unknown job, no snapshot; nothing recorded).`;

/** Entry point of the restore-test subcommand; resolves with the exit code. */
export async function restoreTestMain(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const log = jsonLogger((line) => process.stdout.write(line));
  const values = subcommandArgs(argv, "instance", HELP, true);
  if (typeof values === "number") return values;
  try {
    const config = loadConfig(values.config, env);
    const outcome = await runRestoreTest({
      host: linuxHost,
      instance: values.instance ?? "",
      backupJobs: config.host.backup_jobs,
      stateDir: config.state_dir,
      scratchRoot: join(tmpdir(), "compliance-restore-test"),
      now: () => new Date(),
      timeoutMs: config.step_timeout_s * 1000,
    });
    log.log(outcome.result === "passed" ? "info" : "error", "test restore", { ...outcome });
    return outcome.result === "passed" ? 0 : outcome.result === "failed" ? 1 : 2;
  } catch (error) {
    log.log("error", "test restore could not run", { error: describeError(error) });
    return 2;
  }
}
