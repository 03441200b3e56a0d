import { describe, expect, it } from "vitest";
import { renderLsblk } from "../../host/lab/commands/lsblk.ts";
import type { Host } from "../../ports.ts";
import { fixture, instantClock, labCheckWorld, withOutput } from "../testing.ts";
import { cryptDevices, parseCryptStatus, parseProcSwaps } from "./check.ts";

const here = import.meta.dirname;

/** cryptsetup answering with a fixture for `volume`, the lab for the others. */
const cryptsetupSays =
  (volume: string, name: string, code = 0) =>
  (lab: Host): Host => ({
    ...lab,
    exec: (r) =>
      r.argv[0] === "cryptsetup" && r.argv[2] === volume
        ? Promise.resolve({
            kind: "exited",
            code,
            stdout: fixture(here, name),
            stderr: "",
            truncated: false,
          })
        : lab.exec(r),
  });

describe("encryption", () => {
  it("passes on the clean lab appliance, reporting cipher and key size", async () => {
    const result = await (await labCheckWorld({ clock: instantClock })).run("encryption");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      "cryptroot.type": "LUKS2",
      "cryptroot.cipher": "aes-xts-plain64",
      "cryptroot.key_size_bits": 512,
      "cryptroot.mountpoint": "/",
      "cryptdata.mountpoint": "/var/lib/clinic",
    });
    expect(result.severity).toBe("critical");
  });

  it.each([
    [
      { kind: "luks_volume_closed", volume: "cryptdata" },
      { subject: "cryptdata", observed: "inactive" },
    ],
    [
      { kind: "luks_weak_cipher", volume: "cryptroot" },
      { subject: "cryptroot", expected: "aes-xts-plain64", observed: "aes-cbc-essiv:sha256" },
    ],
  ] as const)("reports %o", async (drift, finding) => {
    const result = await (await labCheckWorld({ drifts: [drift], clock: instantClock })).run(
      "encryption",
    );
    expect(result.status).toBe("drift");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "luks_volume_unencrypted", ...finding }),
    ]);
  });

  it("reads cryptsetup status as cryptsetup 2.x prints it (active LUKS2, inactive, plain)", () => {
    expect(parseCryptStatus("cryptdata", 0, fixture(here, "cryptsetup-status-luks2.txt"))).toEqual({
      active: true,
      type: "LUKS2",
      cipher: "aes-xts-plain64",
      keyBits: 512,
    });
    expect(
      parseCryptStatus("cryptdata", 4, fixture(here, "cryptsetup-status-inactive.txt")),
    ).toEqual({ active: false });
    expect(
      parseCryptStatus("cryptdata", 0, fixture(here, "cryptsetup-status-plain.txt")),
    ).toMatchObject({ type: "PLAIN", keyBits: 256 });
    // The answer must be about the volume asked for, complete, and with the exit code that goes with it.
    expect(
      parseCryptStatus("cryptroot", 0, fixture(here, "cryptsetup-status-luks2.txt")),
    ).toBeUndefined();
    expect(
      parseCryptStatus("cryptdata", 0, fixture(here, "cryptsetup-status-inactive.txt")),
    ).toBeUndefined();
    const cut = fixture(here, "cryptsetup-status-luks2.txt").split("\n").slice(0, 5).join("\n");
    expect(parseCryptStatus("cryptdata", 0, cut)).toBeUndefined();
  });

  it("reports a plain dm-crypt mapping where LUKS2 is expected", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: cryptsetupSays("cryptdata", "cryptsetup-status-plain.txt"),
    });
    expect((await world.run("encryption")).findings).toEqual([
      expect.objectContaining({
        code: "luks_volume_unencrypted",
        subject: "cryptdata",
        expected: "LUKS2",
        observed: "PLAIN",
      }),
    ]);
  });

  it("is an error without device-mapper access (recorded message)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("cryptsetup", {
        stdout: "",
        code: 1,
        stderr: fixture(here, "cryptsetup-no-dm.stderr.txt"),
      }),
    });
    expect(await world.run("encryption")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/device-mapper/),
    });
  });

  it("is an error when cryptsetup says active but lsblk (recorded, no crypt devices) disagrees", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("lsblk", { stdout: fixture(here, "lsblk-no-crypt.json") }),
    });
    expect(await world.run("encryption")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/lsblk lists no such crypt device/),
    });
  });

  it("walks lsblk's tree for crypt devices, and the lab prints lsblk's own layout", () => {
    const luks = cryptDevices(fixture(here, "lsblk-luks.json"));
    expect([...(luks?.keys() ?? [])]).toEqual(["cryptroot", "cryptdata"]);
    expect(cryptDevices(fixture(here, "lsblk-no-crypt.json"))?.size).toBe(0);
    expect(cryptDevices('{"devices": []}')).toBeUndefined();
    expect(cryptDevices("NAME TYPE\nsda disk\n")).toBeUndefined();
    // The emulator's writer reproduces the recorded bytes of util-linux 2.38.
    for (const name of ["lsblk-no-crypt.json", "lsblk-luks.json"]) {
      const text = fixture(here, name);
      expect(`${renderLsblk(JSON.parse(text))}\n`).toBe(text);
    }
  });

  it("is skipped without configured volumes", async () => {
    const result = await (
      await labCheckWorld({ clock: instantClock, expected: { luks_volumes: [] } })
    ).run("encryption");
    expect(result).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/luks_volumes/),
    });
  });

  it("reads /proc/swaps as the kernel prints it (recorded header; the lab prints the same bytes)", async () => {
    expect(parseProcSwaps(fixture(here, "proc-swaps-none.txt"))).toEqual([]);
    expect(parseProcSwaps(fixture(here, "proc-swaps-mixed.txt"))).toEqual([
      { path: "/dev/sda3", type: "partition" },
      { path: "/swapfile", type: "file" },
      { path: "/dev/zram0", type: "partition" },
    ]);
    expect(parseProcSwaps("/dev/sda3 partition 1 0 -2\n")).toBeUndefined();
    expect(
      parseProcSwaps(`${fixture(here, "proc-swaps-none.txt")}/my\\040swap file 1 0 -1\n`),
    ).toEqual([{ path: "/my swap", type: "file" }]);
    const world = await labCheckWorld({ clock: instantClock });
    expect(await world.host.readFile("/proc/swaps", 4096)).toBe(
      fixture(here, "proc-swaps-dmcrypt.txt"),
    );
    expect((await world.run("encryption")).pre_state).toMatchObject({
      swap_areas: 1,
      "swap:/dev/dm-2.kind": "CRYPT-PLAIN",
    });
  });

  it("reports swap on a raw partition and on a file, not on zram", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        readFile: async (p, m) =>
          p === "/proc/swaps" ? fixture(here, "proc-swaps-mixed.txt") : lab.readFile(p, m),
      }),
    });
    const result = await world.run("encryption");
    expect(result.findings.map((f) => [f.code, f.subject, f.observed])).toEqual([
      ["swap_unencrypted", "/dev/sda3", "partition"],
      ["swap_unencrypted", "/swapfile", "file"],
    ]);
  });

  it("reports swap on a device-mapper device that is not dm-crypt (LVM), and errors when it cannot tell", async () => {
    const lvm = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        readFile: async (p, m) =>
          p === "/sys/block/dm-2/dm/uuid" ? "LVM-0a1b2c3d\n" : lab.readFile(p, m),
      }),
    });
    expect((await lvm.run("encryption")).findings).toEqual([
      expect.objectContaining({
        code: "swap_unencrypted",
        subject: "/dev/dm-2",
        observed: "LVM-0a1b2c3d",
      }),
    ]);
    const blind = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        readFile: async (p, m) => (p.startsWith("/sys/block/") ? undefined : lab.readFile(p, m)),
      }),
    });
    expect(await blind.run("encryption")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/device-mapper uuid/),
    });
    const noSwaps = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        readFile: async (p, m) => (p === "/proc/swaps" ? undefined : lab.readFile(p, m)),
      }),
    });
    expect((await noSwaps.run("encryption")).status).toBe("error");
  });
});
