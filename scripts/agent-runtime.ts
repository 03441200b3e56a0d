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

/** `<runtime> --version` (Node's and Bun's both print one line). */
export function runtimeVersion(runtime: AgentRuntime): string {
  return spawnSync(runtime.command, ["--version"], { encoding: "utf8" }).stdout.trim();
}
