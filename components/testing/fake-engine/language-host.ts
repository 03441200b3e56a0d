import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { type EngineLog, startEngineService } from "./engine.ts";
import { runnerPath } from "./grpc.ts";
import { type OutputOverride, type Registration, startFakeMonitor } from "./monitor.ts";

/**
 * The program under Pulumi's own Node.js host, `@pulumi/pulumi/cmd/run`, started with the
 * arguments and environment the language host gives it (monitor, engine, project, stack, pwd,
 * `--dry-run` for a preview, the entry point from Pulumi.yaml, the config as PULUMI_CONFIG),
 * against the fake resource monitor and engine service.
 */
const root = resolve(import.meta.dirname, "..", "..", "..");

export interface ProgramRun {
  readonly code: number | null;
  /** The host's stdout and stderr. */
  readonly out: string;
  readonly registrations: Registration[];
  /** URN → outputs registered for it (the stack's outputs under the stack's URN). */
  readonly outputs: Map<string, Record<string, unknown>>;
  readonly logs: EngineLog[];
}

export async function runProgramUnderHost(options: {
  stack: string;
  config: Readonly<Record<string, string>>;
  dryRun: boolean;
  env?: NodeJS.ProcessEnv;
  /** Provider outputs to answer instead of the plausible ones. */
  override?: OutputOverride;
}): Promise<ProgramRun> {
  const project = "msp-compliance";
  const engine = await startEngineService();
  const monitor = await startFakeMonitor({
    stack: options.stack,
    project,
    dryRun: options.dryRun,
    ...(options.override ? { override: options.override } : {}),
  });
  try {
    const args = [
      runnerPath("cmd/run"),
      "--monitor",
      monitor.address,
      "--engine",
      engine.address,
      "--organization",
      "organization",
      "--project",
      project,
      "--root-directory",
      root,
      "--stack",
      options.stack,
      "--pwd",
      root,
      ...(options.dryRun ? ["--dry-run"] : []),
      "--parallel",
      "16",
      "components/main.ts",
    ];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(options.config),
        PULUMI_CONFIG_SECRET_KEYS: "[]",
        MSP_ADMIN_TOKEN: "",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    return {
      code,
      out,
      registrations: monitor.registrations,
      outputs: monitor.outputs,
      logs: engine.logs,
    };
  } finally {
    await monitor.close();
    await engine.close();
  }
}
