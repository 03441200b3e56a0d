import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AgentWorld, createAgentWorld } from "../agent/src/testing/fixture.ts";
import { testAgentRuntime } from "./agent-runtime.ts";
import { buildAgent } from "./build-agent.ts";

/**
 * The shipped artifact: one file that runs with nothing beside it. Built into a directory
 * outside the repository, so no node_modules can be found, then run for real.
 */
const out = mkdtempSync(join(tmpdir(), "agent-bundle-"));
const bundle = join(out, "agent.mjs");
/** Node 24 by default; AGENT_RUNTIME=bun runs the same bundle on Bun (see scripts/test-bun.ts). */
const runtime = testAgentRuntime();
let world: AgentWorld | undefined;
afterAll(async () => {
  await world?.cleanup();
  rmSync(out, { recursive: true, force: true });
});

describe("the agent bundle", () => {
  it("builds into one file that answers --help with no node_modules beside it", async () => {
    const result = await buildAgent(bundle);
    expect(Object.keys(result.metafile.outputs)).toHaveLength(1);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.endsWith(".node"))).toBe(false);
    expect(inputs.some((i) => i.includes("control-plane/"))).toBe(false);
    // What the running agent never needs stays out of its memory: no X.509 library (the CSR is
    // a few lines of DER) and of zod's locales English only.
    expect(inputs.filter((i) => i.includes("@peculiar/") || i.includes("tsyringe"))).toEqual([]);
    expect(inputs.filter((i) => /zod\/v4\/locales\/(?!en\.js$)/.test(i))).toEqual([]);
    const help = spawnSync(runtime.command, [...runtime.flags, bundle, "--help"], {
      cwd: out,
      env: { ...process.env, ...runtime.env },
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^compliance-agent /);
  });

  it("runs with its runtime flags: enrolls (the CSR written by the bundle), cycles, stops on SIGTERM", async () => {
    world = await createAgentWorld();
    const child = spawn(runtime.command, [...runtime.flags, bundle, "--config", world.configPath], {
      cwd: out,
      env: { PATH: process.env.PATH, ...runtime.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const statusPath = join(world.config.state_dir, "status.json");
    for (let i = 0; i < 400; i++) {
      if (existsSync(statusPath) && JSON.parse(readFileSync(statusPath, "utf8")).cycles >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // Nothing on stderr but the two console lines of enrollment (the evidence key id).
    expect(stderr).toMatch(
      /^compliance-agent: evidence key id [0-9a-f]{64} [^\n]*\ncompliance-agent: enrolled as appliance [^\n]*; evidence key id [0-9a-f]{64}\n$/,
    );
    expect(JSON.parse(readFileSync(statusPath, "utf8"))).toMatchObject({
      state: "stopped",
      cycles: 1,
    });
    expect(world.cp.bundles.length).toBeGreaterThan(0);
  });
});
