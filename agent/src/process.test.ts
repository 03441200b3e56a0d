import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";
import { listeningSockets } from "./testing/sockets.ts";

/**
 * The real agent (main.ts) as a child process against the test control plane on loopback
 * HTTPS: it enrolls with a token, runs cycles, never opens a listening socket, logs JSON without
 * secrets, and exits 0 on SIGTERM after recording a stopping bundle.
 */
const MAIN = join(import.meta.dirname, "main.ts");
const TOKEN = "one-time-token-0123456789abcdef";
let world: AgentWorld;
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await world?.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean, onTick: () => void): Promise<void> {
  for (let i = 0; i < 400; i++) {
    onTick();
    if (check()) return;
    await sleep(50);
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("the agent process", () => {
  it("prints its help and exits 0", () => {
    const result = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Usage: node agent\.mjs \[--config PATH\]/);
  });

  it("names the bad field of a config file and exits 1", async () => {
    world = await createAgentWorld();
    const raw = JSON.parse(readFileSync(world.configPath, "utf8"));
    writeFileSync(world.configPath, JSON.stringify({ ...raw, poll_intervall_s: 5 }));
    const result = spawnSync(process.execPath, [MAIN, "--config", world.configPath], {
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/poll_intervall_s/);
  });

  it("enrolls, cycles, never listens, and on SIGTERM records a stopping bundle and exits 0", async () => {
    world = await createAgentWorld({ enrollmentToken: TOKEN });
    const tokenPath = join(world.dir, "token");
    writeFileSync(tokenPath, `${TOKEN}\n`, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH: tokenPath,
    };
    child = spawn(process.execPath, [MAIN, "--config", world.configPath], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid ?? 0;
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child?.on("exit", (code, signal) => resolve([code, signal])),
    );

    const statusPath = join(world.config.state_dir, "status.json");
    const listening = new Set<string>();
    const sample = () => {
      for (const s of listeningSockets(pid)) listening.add(s);
    };
    await waitFor(
      "a first cycle",
      () => existsSync(statusPath) && JSON.parse(readFileSync(statusPath, "utf8")).cycles >= 1,
      sample,
    );
    for (let i = 0; i < 10; i++) {
      sample();
      await sleep(20);
    }
    expect(listening, "listening sockets of the agent").toEqual(new Set());
    // The sampler does see listening sockets: this test process listens (the control plane)
    // in the same network namespace, and only its own show up.
    const port = world.cp.port.toString(16).toUpperCase().padStart(4, "0");
    expect(listeningSockets(process.pid).some((s) => s.includes(`:${port} state 0A`))).toBe(true);

    child.kill("SIGTERM");
    const [code, signal] = await exited;
    // Nothing on stderr but the two console lines of enrollment (the evidence key id).
    expect(stderr).toMatch(
      /^compliance-agent: evidence key id [0-9a-f]{64} [^\n]*\ncompliance-agent: enrolled as appliance [^\n]*; evidence key id [0-9a-f]{64}\n$/,
    );
    expect([code, signal]).toEqual([0, null]);

    const status = JSON.parse(readFileSync(statusPath, "utf8"));
    expect(status).toMatchObject({ state: "stopped", tenant_id: "clinic-a", pid });
    const db = new DatabaseSync(join(world.config.state_dir, "journal.sqlite"), { readOnly: true });
    const last = db.prepare("SELECT body FROM bundles ORDER BY seq DESC LIMIT 1").get() as {
      body: string;
    };
    db.close();
    expect(JSON.parse(last.body).event).toMatchObject({
      kind: "agent_lifecycle",
      event: "stopping",
    });
    expect(world.cp.enrollments[0]?.enrollment_token).toBe(TOKEN);

    // Structured logs, and nothing secret in them.
    const lines = stdout.trim().split("\n");
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty("msg");
    expect(lines.some((l) => JSON.parse(l).msg === "stop requested")).toBe(true);
    expect(stdout).not.toContain(TOKEN);
    expect(stdout).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  const socat = spawnSync("socat", ["-V"]).status === 0;
  it.skipIf(!socat && !process.env.CI)(
    "notifies systemd (READY, WATCHDOG, STOPPING) through NOTIFY_SOCKET when it is set",
    async () => {
      world = await createAgentWorld();
      const socketPath = join(world.dir, "notify.sock");
      const received = join(world.dir, "notify.out");
      // socat stands in for systemd's notification socket (a unix datagram socket).
      const receiver = spawn(
        "socat",
        ["-u", `UNIX-RECV:${socketPath}`, `OPEN:${received},creat,append`],
        { stdio: "ignore" },
      );
      try {
        await waitFor(
          "the notify socket",
          () => existsSync(socketPath),
          () => {},
        );
        child = spawn(process.execPath, [MAIN, "--config", world.configPath], {
          env: { PATH: process.env.PATH, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "2000000" },
          stdio: "ignore",
        });
        const exited = new Promise((resolve) => child?.on("exit", resolve));
        const statusPath = join(world.config.state_dir, "status.json");
        await waitFor(
          "READY and a watchdog ping",
          () =>
            existsSync(received) &&
            /WATCHDOG=1/.test(readFileSync(received, "utf8")) &&
            existsSync(statusPath) &&
            JSON.parse(readFileSync(statusPath, "utf8")).cycles >= 1,
          () => {},
        );
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
        await waitFor(
          "STOPPING",
          () => /STOPPING=1/.test(readFileSync(received, "utf8")),
          () => {},
        );
        expect(readFileSync(received, "utf8")).toMatch(/^READY=1/);
      } finally {
        receiver.kill("SIGTERM");
      }
    },
  );
});
