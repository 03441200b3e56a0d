import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REGISTERED_PROGRAMS } from "../programs.ts";
import { applyDrift } from "./drift.ts";
import {
  cleanLabState,
  createLabHost,
  LAB_COMMANDS,
  LabState,
  writeLabStateFile,
} from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "lab-host-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exec = (host: ReturnType<typeof createLabHost>, argv: [string, ...string[]], extra = {}) =>
  host.exec({ argv, timeoutMs: 1000, maxOutputBytes: 1_000_000, ...extra });

describe("the lab host", () => {
  it("lists its programs sorted, and says not_found for any other", async () => {
    const names = Object.keys(LAB_COMMANDS);
    expect(names).toEqual([...names].sort());
    const host = createLabHost({ state: cleanLabState(new Date()) });
    expect(await exec(host, ["apt-get", "install", "x"])).toEqual({ kind: "not_found" });
    expect(await exec(host, ["/run/current-system/sw/bin/nixos-version", "--json"])).toMatchObject({
      kind: "exited",
      code: 0,
    });
    expect(await exec(host, ["restic-clinic-data", "snapshots", "--json"])).toMatchObject({
      kind: "exited",
      code: 0,
    });
  });

  it("has only the registry's programs: one the registry lacks is not_found, emulator or not", async () => {
    const emulator = () => ({ code: 0, stdout: "ran\n" });
    const host = createLabHost({
      state: cleanLabState(new Date()),
      commands: { "unregistered-tool": emulator, lsblk: emulator },
    });
    expect(await exec(host, ["unregistered-tool"])).toEqual({ kind: "not_found" });
    expect(await exec(host, ["lsblk"])).toMatchObject({ kind: "exited", stdout: "ran\n" });
    for (const program of Object.keys(LAB_COMMANDS).filter((p) => !p.endsWith("-*"))) {
      expect(REGISTERED_PROGRAMS.has(program), `${program} is not in programs.json`).toBe(true);
    }
  });

  it("answers unsupported arguments the way a tool does (exit 1 and a message), never with made-up output", async () => {
    const host = createLabHost({ state: cleanLabState(new Date()) });
    for (const argv of [
      ["nft", "list", "ruleset"],
      ["systemctl", "stop", "sshd.service"],
      ["lsblk"],
      ["cryptsetup", "open", "x"],
    ] as const) {
      const r = await exec(host, [...argv]);
      expect(r).toMatchObject({ kind: "exited", code: 1, stdout: "" });
    }
  });

  it("caps output like the real adapter and honours timeouts and aborts", async () => {
    const host = createLabHost({
      state: applyDrift(cleanLabState(new Date()), { kind: "tool_hangs", program: "nft" }),
    });
    const capped = await exec(host, ["lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"], {
      maxOutputBytes: 10,
    });
    expect(capped).toMatchObject({ kind: "exited", truncated: true, stdout: '{\n   "bloc' });
    expect(await exec(host, ["nft", "-j", "list", "ruleset"], { timeoutMs: 30 })).toEqual({
      kind: "timed_out",
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    expect(
      await exec(host, ["nft", "-j", "list", "ruleset"], { signal: controller.signal }),
    ).toEqual({ kind: "failed", message: "aborted" });
  });

  it("renders files from its state: the system links, journald.conf, /proc/loadavg", async () => {
    const state = cleanLabState(new Date());
    const host = createLabHost({ state, restoreTestDir: "/var/lib/ca/restore-tests" });
    const current = state.nixos.generations.at(-1)?.system;
    expect(await host.readlink("/run/current-system")).toBe(current);
    expect(await host.readlink("/nix/var/nix/profiles/system")).toBe("system-3-link");
    expect(await host.stat("/run/booted-system")).toMatchObject({ kind: "symlink" });
    expect(await host.readFile("/etc/systemd/journald.conf", 1000)).toContain(
      "Storage=persistent\n",
    );
    expect(await host.stat("/var/log/journal")).toMatchObject({ kind: "directory" });
    expect(await host.readFile("/proc/loadavg", 1000)).toBe("0.31 0.42 0.38 1/231 4242\n");
    expect(
      JSON.parse((await host.readFile("/var/lib/ca/restore-tests/clinic-data.json", 10_000)) ?? ""),
    ).toMatchObject({ job: "clinic-data" });
    expect(await host.readFile("/etc/shadow", 1000)).toBeUndefined();
    expect(await host.readlink("/etc/systemd/journald.conf")).toBeUndefined();
  });

  it("re-reads its state file when another process rewrites it, and writes its own changes back", async () => {
    const file = join(dir, "state.json");
    writeLabStateFile(file, cleanLabState(new Date()));
    const host = createLabHost({ stateFile: file });
    expect(host.hostname()).toBe("clinic-lab-01");
    const other = LabState.parse(JSON.parse(readFileSync(file, "utf8")));
    other.hostname = "renamed-by-another-process";
    writeFileSync(file, JSON.stringify(other));
    expect(host.hostname()).toBe("renamed-by-another-process");
    host.update((s) => {
      s.cpu.load15 = 1.5;
    });
    expect(LabState.parse(JSON.parse(readFileSync(file, "utf8"))).cpu.load15).toBe(1.5);
  });

  it("refuses a state file that is not a lab state, naming the field", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ ...cleanLabState(new Date()), cpu: { cores: 0 } }));
    expect(() => createLabHost({ stateFile: file })).toThrow(/cpu\.cores/);
  });
});
