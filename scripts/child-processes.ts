import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:https";
import { networkInterfaces } from "node:os";
import { createInterface } from "node:readline";
import {
  kernelHasMemoryDenyWriteExecute,
  testAgentRuntime,
  underMemoryDenyWriteExecute,
} from "./agent-runtime.ts";

/**
 * Running the real control plane and the real agent as child processes (process.execPath runs
 * their TypeScript entry points directly on Node 24), for the lab and the end-to-end tests,
 * which see both only from outside: CLI, files, HTTPS.
 */
export interface Child {
  readonly process: ChildProcess;
  readonly output: string[];
  /** Resolves with the first output line matching `pattern`, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

export function startChild(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  command: string = process.execPath,
): Child {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      output.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    process: child,
    output,
    waitFor(pattern, timeoutMs = 20_000) {
      const seen = output.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no line matching ${pattern} within ${timeoutMs} ms:\n${output.slice(-20).join("\n")}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        child.once("exit", () => {
          clearTimeout(timer);
          reject(new Error(`process exited before ${pattern}:\n${output.slice(-20).join("\n")}`));
        });
      });
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The agent (its bundle or its entry point, then its arguments) on the runtime AGENT_RUNTIME
 * names, with the flags the appliance runs it with; the control plane stays on Node.
 * `syscallTracePath`: strace writes every system call of the runtime (all its threads) there,
 * one line each, the first field the thread's id (the first line's is the runtime's pid).
 * Wrappers, outermost first: MemoryDenyWriteExecute, the user, strace, the runtime.
 */
export function startAgentChild(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  options: {
    syscallTracePath?: string;
    /** Run as this user and group (setpriv, no supplementary groups), as the unit's User= does. */
    user?: { uid: number; gid: number };
  } = {},
): Child {
  const runtime = testAgentRuntime();
  const childEnv = { ...runtime.env, ...env };
  // Node strips TypeScript with WebAssembly, which --jitless turns off: the entry point runs
  // without the flags there; the bundle (what the appliance runs) always gets them.
  const typeScriptOnNode = runtime.name === "node" && args[0]?.endsWith(".ts");
  let command = runtime.command;
  let commandArgs = typeScriptOnNode ? [...args] : [...runtime.flags, ...args];
  if (options.syscallTracePath !== undefined) {
    commandArgs = ["-f", "-qq", "-o", options.syscallTracePath, "--", command, ...commandArgs];
    command = "strace";
  }
  if (options.user !== undefined) {
    const { uid, gid } = options.user;
    commandArgs = [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      "--clear-groups",
      "--",
      command,
      ...commandArgs,
    ];
    command = "setpriv";
  }
  if (typeScriptOnNode) return startChild(commandArgs, cwd, childEnv, command);
  // The bundle runs under the unit's MemoryDenyWriteExecute=yes, as on the appliance, so a
  // runtime setting that needs writable executable memory fails here and not only on the box.
  const locked = kernelHasMemoryDenyWriteExecute()
    ? underMemoryDenyWriteExecute(command, commandArgs)
    : { command, args: commandArgs };
  return startChild(locked.args, cwd, childEnv, locked.command);
}

/** A JSON request over HTTPS that trusts only `caPem`. */
export function httpsJson(
  url: string,
  options: {
    method?: string;
    body?: unknown;
    caPem: string;
    token?: string;
    /** A client certificate and key (PEM), to call the appliance API as an appliance. */
    client?: { certPem: string; keyPem: string };
  },
): Promise<{ status: number; body: unknown }> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? (payload ? "POST" : "GET"),
        ca: options.caPem,
        ...(options.client
          ? { cert: options.client.certPem, key: options.client.keyPem, agent: false }
          : {}),
        headers: {
          ...(payload ? { "content-type": "application/json" } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The MAC addresses the agent will report for this machine (non-internal interfaces). */
export function machineMacs(): string[] {
  const macs = new Set<string>();
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (
        !a.internal &&
        /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/.test(a.mac) &&
        a.mac !== "00:00:00:00:00:00"
      ) {
        macs.add(a.mac);
      }
    }
  }
  return [...macs].sort();
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
