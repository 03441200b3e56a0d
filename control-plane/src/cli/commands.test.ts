import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS, runCli } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-cli-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

describe("control-plane subcommands", () => {
  it("are one file each in cli/, registered once", () => {
    const files = readdirSync(import.meta.dirname)
      .filter((f) => /^[a-z-]+\.ts$/.test(f))
      .map((f) => f.slice(0, -3));
    // A group of two-word commands on one set of functions (`operator …`, `token …`) may share
    // the file of its first word.
    for (const c of COMMANDS) {
      const own = c.name.replace(" ", "-");
      const group = c.name.split(" ")[0] === "token" ? "operator" : c.name.split(" ")[0];
      expect(files.includes(own) || files.includes(group ?? own), c.name).toBe(true);
    }
  });

  // A flag of another subcommand is the likeliest mistake: each refuses it, naming it.
  it.each([
    ["init", ["--data-dir", join(dir, "a"), "--month", "x"], "--month"],
    ["serve", ["--data-dir", join(dir, "b"), "--tenant", "clinic-a"], "--tenant"],
    ["export", ["--data-dir", join(dir, "c"), "--roles", "http"], "--roles"],
    ["packet", ["--data-dir", join(dir, "d"), "--operator", "admin"], "--operator"],
    ["init", ["--config", "x.json"], "--config"],
    ["packet", ["--data-dir", join(dir, "e"), "-x"], "-x"],
  ])("%s refuses %j naming the flag, exit 2, nothing written", async (name, args, flag) => {
    const r = await cli(name, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`control-plane: ${name} does not take ${flag}; ${name} takes --`);
    expect(r.stderr).toContain(`usage:\n  control-plane ${name} `);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a stray argument and a flag without its value", async () => {
    const stray = await cli("init", "--data-dir", join(dir, "f"), "extra");
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("init: unexpected argument extra");
    const missing = await cli("export", "--data-dir");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("export: Option '--data-dir <value>' argument missing");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("prints each command's usage on --help with exit 0, and all of them without a command", async () => {
    for (const c of COMMANDS) {
      const r = await cli(c.name, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`usage:\n  ${c.usage}\n`);
    }
    const none = await cli();
    expect(none.code).toBe(2);
    for (const c of COMMANDS) expect(none.stderr).toContain(c.usage);
    const bogus = await cli("bogus");
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^control-plane: unknown command bogus\n/);
  });

  it("as a process: `init --month x` exits non-zero naming the flag", () => {
    const main = join(import.meta.dirname, "..", "main.ts");
    const r = spawnSync(
      process.execPath,
      [main, "init", "--data-dir", join(dir, "g"), "--month", "x"],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("init does not take --month");
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);
});
