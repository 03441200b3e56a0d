import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { runnerPath } from "./grpc.ts";

/**
 * Starts one of `@pulumi/pulumi`'s runners as a plugin, the way the engine starts a plugin:
 * `node <runner> <args…>` in the given working directory; the plugin serves gRPC on loopback
 * and prints its port as the first line of stdout, which the engine reads to connect.
 */
export interface Plugin {
  readonly address: string;
  readonly child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

export async function launchPlugin(
  cmd: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Plugin> {
  const child = spawn(process.execPath, [runnerPath(cmd), ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    const ms = options.timeoutMs ?? 30_000;
    const timer = setTimeout(
      () => reject(new Error(`${cmd}: no port within ${ms} ms: ${stderr}`)),
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
      reject(new Error(`${cmd} exited ${code} before serving: ${out}${stderr}`));
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
