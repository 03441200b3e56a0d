import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { AGENT_BUN_ENV, AGENT_BUN_FLAGS, AGENT_NODE_FLAGS } from "./build-agent.ts";

/**
 * The runtimes the agent bundle runs on: Node 24 (this process's own binary) and Bun (the pinned
 * npm package `@oven/bun-linux-x64`), each with the flags the appliance runs it with. Benches and
 * end-to-end tests start the agent through this, so one switch (AGENT_RUNTIME) moves them all.
 */
export type AgentRuntimeName = "node" | "bun";

export interface AgentRuntime {
  readonly name: AgentRuntimeName;
  readonly command: string;
  /** Runtime flags, placed before the bundle's path. */
  readonly flags: readonly string[];
  /** Environment variables the runtime reads at start (added to the inherited environment). */
  readonly env: Readonly<Record<string, string>>;
}

const bunBinary = () =>
  join(
    dirname(createRequire(import.meta.url).resolve("@oven/bun-linux-x64/package.json")),
    "bin",
    "bun",
  );

export function agentRuntime(name: AgentRuntimeName): AgentRuntime {
  return name === "bun"
    ? { name, command: bunBinary(), flags: AGENT_BUN_FLAGS, env: AGENT_BUN_ENV }
    : { name, command: process.execPath, flags: AGENT_NODE_FLAGS, env: {} };
}

export function parseRuntimeName(value: string | undefined): AgentRuntimeName {
  if (value === undefined || value === "" || value === "node") return "node";
  if (value === "bun") return "bun";
  throw new Error(`AGENT_RUNTIME must be "node" or "bun", not ${JSON.stringify(value)}`);
}

/** The runtime the end-to-end tests start the agent bundle with (AGENT_RUNTIME, default node). */
export const testAgentRuntime = (): AgentRuntime =>
  agentRuntime(parseRuntimeName(process.env.AGENT_RUNTIME));

/**
 * The unit's `MemoryDenyWriteExecute=yes` for a child process started outside systemd: python3
 * sets the kernel's PR_SET_MDWE (Linux 6.3+), the same lock systemd applies, then execs
 * `command` (looked up on PATH) in place: same pid, so signals reach the runtime itself. A runtime whose flags
 * still let it map memory writable and executable aborts under it, as it would on the appliance.
 * Exits 77 when the kernel has no PR_SET_MDWE.
 */
export function underMemoryDenyWriteExecute(
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  const script = `${SET_MDWE}os.execvp(sys.argv[1], sys.argv[1:])`;
  return { command: "python3", args: ["-c", script, command, ...args] };
}

const SET_MDWE =
  "import ctypes, os, sys\n" +
  "libc = ctypes.CDLL(None, use_errno=True)\n" +
  "if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)\n";

let mdweProbe: boolean | undefined;

/** Whether this kernel offers PR_SET_MDWE (asked once per process; says so when it does not). */
export function kernelHasMemoryDenyWriteExecute(): boolean {
  if (mdweProbe === undefined) {
    mdweProbe = spawnSync("python3", ["-c", SET_MDWE]).status === 0;
    if (!mdweProbe) {
      process.stderr.write(
        "agent processes run without MemoryDenyWriteExecute: this kernel has no PR_SET_MDWE (Linux 6.3+) or python3 is missing\n",
      );
    }
  }
  return mdweProbe;
}

/** `<runtime> --version` (Node's and Bun's both print one line). */
export function runtimeVersion(runtime: AgentRuntime): string {
  return spawnSync(runtime.command, ["--version"], { encoding: "utf8" }).stdout.trim();
}
