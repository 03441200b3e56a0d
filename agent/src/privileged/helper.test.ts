import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nftRestoreDocument } from "../healing/actions/host-actions.ts";
import type { Host } from "../ports.ts";
import { privilegedHost, viaHelper } from "./client.ts";
import { PRIVILEGED_COMMANDS, privilegedCommand } from "./commands.ts";
import { MAX_REQUEST_BYTES } from "./wire.ts";

/**
 * The real helper (main.ts privileged-helper) as a child process on a real UNIX socket. Its PATH
 * holds stand-in programs that only record the argv and stdin they received, so "allowed runs"
 * is observed without touching this machine, and a refused request is seen to run nothing.
 */
const MAIN = join(import.meta.dirname, "..", "main.ts");
const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
const PROGRAMS = [
  "restic-clinic-data",
  "restic-other",
  "systemctl",
  "journalctl",
  "nft",
  "cryptsetup",
  "nix-env",
  "nix-store",
  "sh",
  "rm",
];
const BASELINE_RULESET = {
  nftables: [
    { metainfo: { version: "1.0.9" } },
    { table: { family: "inet", name: "filter", handle: 1 } },
  ],
};

let dir: string;
let socket: string;
let calls: string;
let helper: ChildProcess;
let output = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "helper-"));
  socket = join(dir, "helper.sock");
  calls = join(dir, "calls.jsonl");
  const bin = join(dir, "bin");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(bin);
  for (const program of PROGRAMS) {
    const path = join(bin, program);
    writeFileSync(
      path,
      `#!${process.execPath}
const fs = require("node:fs");
let stdin = "";
try { stdin = fs.readFileSync(0, "utf8"); } catch {}
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ argv: [${JSON.stringify(program)}, ...process.argv.slice(2)], stdin, uid: process.getuid() }) + "\\n");
process.stdout.write("ran " + process.argv.slice(2).join(" "));
`,
    );
    chmodSync(path, 0o755);
  }
  const rulesetPath = join(dir, "firewall-baseline.json");
  writeFileSync(rulesetPath, JSON.stringify(BASELINE_RULESET));
  const config = {
    control_plane_url: "https://cp.example.net",
    order_signing_public_key: `${"A".repeat(43)}=`,
    ca_bundle_path: join(dir, "ca.pem"),
    state_dir: join(dir, "state"),
    evidence_key_path: join(dir, "evidence.pem"),
    tls_key_path: join(dir, "tls.pem"),
    catalog_dir: REPO_ROOT,
    host: {
      backup_jobs: ["clinic-data"],
      luks_volumes: ["cryptdata"],
      firewall_ruleset_path: rulesetPath,
      expected_system: "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-clinic",
    },
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  helper = spawn(
    process.execPath,
    [MAIN, "privileged-helper", "--config", join(dir, "config.json"), "--socket", socket],
    {
      env: { PATH: bin },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  helper.stdout?.on("data", (d) => {
    output += String(d);
  });
  helper.stderr?.on("data", (d) => {
    output += String(d);
  });
  for (let i = 0; i < 200 && !output.includes("privileged helper ready"); i++) {
    if (helper.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!output.includes("privileged helper ready"))
    throw new Error(`helper did not start: ${output}`);
}, 20_000);

afterAll(() => {
  helper?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

const recorded = (): { argv: string[]; stdin: string }[] =>
  existsSync(calls)
    ? readFileSync(calls, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

const run = (argv: [string, ...string[]], stdin?: string) =>
  viaHelper(socket, {
    argv,
    timeoutMs: 5000,
    maxOutputBytes: 4096,
    ...(stdin === undefined ? {} : { stdin }),
  });

/** Sends raw bytes and returns the helper's raw answer line. */
function raw(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(socket, () => s.end(bytes));
    s.on("data", (c) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    s.on("error", reject);
  });
}

describe("the privileged helper process", () => {
  it("listens on a socket only its group may use", () => {
    expect(statSync(socket).mode & 0o777).toBe(0o660);
  });

  it("runs an allowlisted command exactly as argv", async () => {
    const result = await run(["systemctl", "restart", "sshd.service"]);
    expect(result).toMatchObject({ kind: "exited", code: 0, stdout: "ran restart sshd.service" });
    expect(recorded().at(-1)?.argv).toEqual(["systemctl", "restart", "sshd.service"]);
  });

  it("reads a configured backup job's snapshots (root-only: the repository password)", async () => {
    const argv = ["restic-clinic-data", "snapshots", "--json", "--latest", "1"] as const;
    expect(await run([...argv])).toMatchObject({ kind: "exited", code: 0 });
    expect(recorded().at(-1)?.argv).toEqual(argv);
  });

  it("loads only the baseline firewall ruleset", async () => {
    const document = nftRestoreDocument(JSON.stringify(BASELINE_RULESET)) as string;
    expect(await run(["nft", "-j", "-f", "-"], document)).toMatchObject({
      kind: "exited",
      code: 0,
    });
    expect(recorded().at(-1)).toMatchObject({ argv: ["nft", "-j", "-f", "-"], stdin: document });
    const open = JSON.stringify({ nftables: [{ flush: { ruleset: null } }] });
    const refused = await run(["nft", "-j", "-f", "-"], open);
    expect(refused).toMatchObject({ kind: "failed" });
    expect(refused.kind === "failed" && refused.message).toMatch(/not_allowed.*not the baseline/);
  });

  it.each([
    [["rm", "-rf", "/"], /unknown_command/],
    [["sh", "-c", "systemctl restart sshd.service"], /unknown_command/],
    [["systemctl", "restart", "postgresql.service"], /not_allowed.*not an allowed unit/],
    [["systemctl", "restart", "sshd.service; rm -rf /"], /not_allowed/],
    [["systemctl", "start", "restic-backups-other.service"], /not a configured backup job/],
    [["journalctl", "--vacuum-size=$(id)"], /not_allowed/],
    [["cryptsetup", "status", "cryptroot"], /not a configured LUKS volume/],
    [["restic-other", "snapshots", "--json", "--latest", "1"], /not a configured backup job/],
    [["restic-clinic-data", "forget", "--prune"], /unknown_command/],
    [
      [
        "nix-env",
        "-p",
        "/nix/var/nix/profiles/system",
        "--set",
        "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-evil",
      ],
      /neither the expected/,
    ],
    [["systemctl", "restart", "sshd.service", "--now"], /unknown_command/],
  ] as [[string, ...string[]], RegExp][])("refuses %j and runs nothing", async (argv, why) => {
    const before = recorded().length;
    const result = await run(argv);
    expect(result.kind).toBe("failed");
    expect(result.kind === "failed" && result.message).toMatch(why);
    expect(recorded()).toHaveLength(before);
  });

  it("refuses input to a command that takes none", async () => {
    const result = await run(["systemctl", "restart", "sshd.service"], "y\n");
    expect(result.kind === "failed" && result.message).toMatch(/takes no input/);
  });

  it("refuses malformed JSON, a wrong schema and a request without newline", async () => {
    expect(JSON.parse(await raw("{not json\n")).result).toMatchObject({
      kind: "refused",
      code: "malformed",
    });
    const extra = JSON.stringify({
      v: 1,
      argv: ["nix-store", "--gc"],
      timeout_ms: 1000,
      max_output_bytes: 10,
      shell: true,
    });
    expect(JSON.parse(await raw(`${extra}\n`)).result).toMatchObject({
      kind: "refused",
      code: "malformed",
    });
    const noNewline = JSON.stringify({
      v: 1,
      argv: ["nix-store", "--gc"],
      timeout_ms: 1000,
      max_output_bytes: 10,
    });
    expect(JSON.parse(await raw(noNewline)).result).toMatchObject({
      kind: "refused",
      code: "malformed",
    });
  });

  it("refuses an oversized request without reading it all", async () => {
    const answer = await raw(Buffer.alloc(MAX_REQUEST_BYTES + 1024, 0x61));
    expect(JSON.parse(answer).result).toMatchObject({ kind: "refused", code: "oversized" });
  });
});

// Under systemd the helper takes its listening socket from socket activation (LISTEN_FDS, fd 3).
const activate = spawnSync("systemd-socket-activate", ["--help"]).error === undefined;
describe.skipIf(!activate && !process.env.CI)(
  "the helper under socket activation (needs systemd-socket-activate)",
  () => {
    it("serves the socket systemd-socket-activate passes as fd 3", async () => {
      const activated = join(dir, "activated.sock");
      const child = spawn(
        "systemd-socket-activate",
        [
          "-l",
          activated,
          process.execPath,
          MAIN,
          "privileged-helper",
          "--config",
          join(dir, "config.json"),
        ],
        { env: { PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}` }, stdio: "ignore" },
      );
      try {
        for (let i = 0; i < 100 && !existsSync(activated); i++)
          await new Promise((r) => setTimeout(r, 50));
        const result = await viaHelper(activated, {
          argv: ["systemctl", "reset-failed", "auditd.service"],
          timeoutMs: 10_000,
          maxOutputBytes: 4096,
        });
        expect(result).toMatchObject({
          kind: "exited",
          code: 0,
          stdout: "ran reset-failed auditd.service",
        });
        const refused = await viaHelper(activated, {
          argv: ["rm", "-rf", "/"],
          timeoutMs: 5000,
          maxOutputBytes: 10,
        });
        expect(refused.kind === "failed" && refused.message).toMatch(/unknown_command/);
      } finally {
        child.kill("SIGTERM");
      }
    }, 20_000);
  },
);

describe("routing in the agent's host", () => {
  it("sends exactly the table's commands to the helper", async () => {
    const ran: string[][] = [];
    const inner: Host = {
      macAddresses: () => [],
      hostname: () => "h",
      readFile: async () => undefined,
      stat: async () => undefined,
      readlink: async () => undefined,
      exec: async (r) => {
        ran.push([...r.argv]);
        return { kind: "exited", code: 0, stdout: "inner", stderr: "", truncated: false };
      },
    };
    const host = privilegedHost(inner, socket);
    const show = await host.exec({
      argv: ["systemctl", "show", "sshd.service"],
      timeoutMs: 1000,
      maxOutputBytes: 100,
    });
    expect(show).toMatchObject({ stdout: "inner" });
    const restart = await host.exec({
      argv: ["systemctl", "restart", "chronyd.service"],
      timeoutMs: 5000,
      maxOutputBytes: 100,
    });
    expect(restart).toMatchObject({ stdout: "ran restart chronyd.service" });
    expect(ran).toEqual([["systemctl", "show", "sshd.service"]]);
    const without = privilegedHost(inner, undefined);
    const refused = await without.exec({
      argv: ["nix-store", "--gc"],
      timeoutMs: 1000,
      maxOutputBytes: 100,
    });
    expect(refused).toMatchObject({
      kind: "failed",
      message: expect.stringMatching(/no privileged helper/),
    });
  });

  it("has one table entry per shape, and never a shell", () => {
    const ids = PRIVILEGED_COMMANDS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const shell of ["sh", "bash", "env", "sudo", "/bin/sh"]) {
      expect(privilegedCommand([shell, "-c", "true"])).toBeUndefined();
    }
  });
});
