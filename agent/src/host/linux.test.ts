import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { linuxHost } from "./linux.ts";

/** The real adapter against real child processes (Node itself, so nothing else is needed). */
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "linux-host-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (script: string, extra: Partial<Parameters<typeof linuxHost.exec>[0]> = {}) =>
  linuxHost.exec({
    argv: [node, "-e", script],
    timeoutMs: 10_000,
    maxOutputBytes: 65_536,
    ...extra,
  });

/** Running, not a zombie (a killed orphan may wait for a reaper that never comes in a container). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};

describe("linuxHost.exec", () => {
  it("passes every argv element literally: no shell ever sees them", async () => {
    const tricky = [
      "two words",
      `"double" 'single'`,
      "$(touch pwned)",
      "; rm -rf /",
      "*",
      "",
      "a\nb",
    ];
    const result = await linuxHost.exec({
      argv: [node, "-e", "process.stdout.write(JSON.stringify(process.argv.slice(1)))", ...tricky],
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(result).toMatchObject({ kind: "exited", code: 0, truncated: false });
    if (result.kind !== "exited") throw new Error("not exited");
    expect(JSON.parse(result.stdout)).toEqual(tricky);
  });

  it("reports the exit code, stderr and stdin round trip", async () => {
    const result = await run(
      "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{process.stdout.write(s.toUpperCase());process.stderr.write('warn');process.exit(3)})",
      { stdin: "hello lab" },
    );
    expect(result).toEqual({
      kind: "exited",
      code: 3,
      stdout: "HELLO LAB",
      stderr: "warn",
      truncated: false,
    });
  });

  it("says not_found for a program that does not exist", async () => {
    expect(
      await linuxHost.exec({
        argv: ["no-such-program-4f2a9"],
        timeoutMs: 5000,
        maxOutputBytes: 10,
      }),
    ).toEqual({ kind: "not_found" });
    expect(
      await linuxHost.exec({
        argv: [join(dir, "absent", "tool")],
        timeoutMs: 5000,
        maxOutputBytes: 10,
      }),
    ).toEqual({ kind: "not_found" });
  });

  it("caps stdout and stderr each, and says it truncated", async () => {
    const result = await run(
      "process.stdout.write('x'.repeat(1_000_000));process.stderr.write('e'.repeat(5000))",
      { maxOutputBytes: 1000 },
    );
    expect(result.kind).toBe("exited");
    if (result.kind !== "exited") return;
    expect(result.stdout).toBe("x".repeat(1000));
    expect(result.stderr).toBe("e".repeat(1000));
    expect(result.truncated).toBe(true);
  });

  it("kills the whole process group on timeout, grandchildren included", async () => {
    const pidFile = join(dir, "grandchild.pid");
    const script = `
      const { spawn } = require("node:child_process");
      const g = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
      require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
      setInterval(() => {}, 1000);`;
    const started = Date.now();
    const result = await run(script, { timeoutMs: 1500 });
    expect(result).toEqual({ kind: "timed_out" });
    expect(Date.now() - started).toBeLessThan(8000);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(grandchild)).toBe(false);
  });

  it("stops at once when its signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await run("setInterval(() => {}, 1000)", { signal: controller.signal });
    expect(result).toEqual({ kind: "failed", message: "aborted" });
  });

  it("reports a program killed by a signal as failed, not as an exit code", async () => {
    const result = await run("process.kill(process.pid, 'SIGTERM'); setInterval(() => {}, 1000)");
    expect(result).toEqual({ kind: "failed", message: expect.stringContaining("SIGTERM") });
  });
});

describe("linuxHost files", () => {
  it("reads at most maxBytes, and undefined for an absent file", async () => {
    const path = join(dir, "file.txt");
    writeFileSync(path, "0123456789");
    expect(await linuxHost.readFile(path, 4)).toBe("0123");
    expect(await linuxHost.readFile(path, 100)).toBe("0123456789");
    expect(await linuxHost.readFile(join(dir, "absent"), 10)).toBeUndefined();
    expect(await linuxHost.readFile(join(path, "under-a-file"), 10)).toBeUndefined();
  });

  it("stats without following links and reads link targets", async () => {
    const target = join(dir, "target");
    writeFileSync(target, "abc", { mode: 0o640 });
    const link = join(dir, "link");
    symlinkSync(target, link);
    expect(await linuxHost.stat(target)).toMatchObject({ kind: "file", size: 3, mode: 0o640 });
    expect(await linuxHost.stat(link)).toMatchObject({ kind: "symlink" });
    expect(await linuxHost.stat(dir)).toMatchObject({ kind: "directory" });
    expect(await linuxHost.stat(join(dir, "absent"))).toBeUndefined();
    expect(await linuxHost.readlink(link)).toBe(target);
    expect(await linuxHost.readlink(target)).toBeUndefined();
    expect(await linuxHost.readlink(join(dir, "absent"))).toBeUndefined();
  });
});
