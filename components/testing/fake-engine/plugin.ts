import { type ChildProcess, spawn } from "node:child_process";
import { delimiter, dirname } from "node:path";
import { createInterface } from "node:readline";
import { pulumiFile, runnerPath } from "./grpc.ts";

/**
 * Starts a plugin the way the engine does: a process in the given working directory (for a
 * runner of `@pulumi/pulumi`, `node <runner> <args…>`; for a plugin executable such as
 * `pulumi-resource-pulumi-nodejs`, the executable itself, with this Node first on PATH); the
 * plugin serves gRPC on loopback and prints its port on stdout, which the engine reads to
 * connect.
 */
export interface Plugin {
  readonly address: string;
  /** The plugin's process, leader of its own process group. */
  readonly child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

interface LaunchOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** A runner module of `@pulumi/pulumi`, e.g. `cmd/run-policy-pack`. */
export function launchPlugin(
  cmd: string,
  args: readonly string[],
  options: LaunchOptions,
): Promise<Plugin> {
  return launch(cmd, process.execPath, [runnerPath(cmd), ...args], options);
}

/** A plugin executable shipped in `@pulumi/pulumi`, e.g. `pulumi-resource-pulumi-nodejs`. */
export function launchPluginExecutable(
  name: string,
  args: readonly string[],
  options: LaunchOptions,
): Promise<Plugin> {
  const env = options.env ?? process.env;
  const path = [dirname(process.execPath), env.PATH ?? ""].join(delimiter);
  return launch(name, pulumiFile(name), args, { ...options, env: { ...env, PATH: path } });
}

async function launch(
  cmd: string,
  file: string,
  args: readonly string[],
  options: LaunchOptions,
): Promise<Plugin> {
  // A process group of its own: a plugin executable is a shell script whose `node` child
  // must stop with it.
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    } catch {
      // the group is gone already
    }
  };
  let stderr = "";
  child.stderr?.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    const fail = (e: Error) => {
      killGroup();
      reject(e);
    };
    const ms = options.timeoutMs ?? 30_000;
    const timer = setTimeout(
      () => fail(new Error(`${cmd}: no port within ${ms} ms: ${stderr}`)),
      ms,
    );
    let out = "";
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      out += `${line}\n`;
      if (/^\d+$/.test(line.trim())) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} exited ${code} before serving: ${out}${stderr}`));
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    async stop() {
      killGroup();
      await exited;
    },
  };
}
