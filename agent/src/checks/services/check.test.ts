import { describe, expect, it } from "vitest";
import type { Host } from "../../ports.ts";
import { fixture, instantClock, labCheckWorld, withOutput } from "../testing.ts";
import { countCpus, MAX_AUTOMATIC_RESTARTS, parseDf } from "./check.ts";
import recorded from "./fixtures/sshd-T-baseline.json" with { type: "json" };
import { parseSshdT, sshdSeconds } from "./sshd.ts";

const here = import.meta.dirname;
/** The recorded `sshd -T` of the baseline configuration, as the program prints it. */
const SSHD_T_BASELINE = `${recorded.join("\n")}\n`;

describe("services", () => {
  it("passes on the clean lab appliance with every baseline unit active", async () => {
    const result = await (await labCheckWorld({ clock: instantClock })).run("services");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      "auditd.service.active_state": "active",
      "nftables.service.sub_state": "exited",
      "disk:/var/lib/clinic.free_percent": expect.any(Number),
      cpu_cores: 4,
    });
  });

  it.each([
    [
      { kind: "service_stopped", unit: "chronyd.service" },
      { code: "unit_inactive", subject: "chronyd.service", observed: "inactive" },
    ],
    [
      { kind: "service_failed", unit: "auditd.service" },
      { code: "unit_failed", subject: "auditd.service", observed: "failed (exit-code)" },
    ],
    [
      { kind: "service_crash_loop", unit: "sshd.service", restarts: 9 },
      { code: "unit_failed", subject: "sshd.service", observed: 9 },
    ],
    [
      { kind: "disk_full", mount: "/var/lib/clinic" },
      { code: "disk_usage_high", subject: "/var/lib/clinic", observed: 5 },
    ],
    [
      { kind: "unneeded_service", unit: "avahi-daemon.service" },
      {
        code: "unexpected_service_enabled",
        subject: "avahi-daemon.service",
        observed: "active, enabled",
      },
    ],
    [
      { kind: "cpu_load_high", unit: "chronyd.service" },
      { code: "cpu_load_high", subject: "chronyd.service", observed: 3 },
    ],
  ] as const)("reports %o", async (drift, finding) => {
    const result = await (await labCheckWorld({ drifts: [drift], clock: instantClock })).run(
      "services",
    );
    expect(result.status).toBe("drift");
    expect(result.findings).toEqual([expect.objectContaining(finding)]);
  });

  it("names no unit for high load when no allowlisted unit reports CPU time", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "cpu_load_high" }],
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        exec: async (r) => {
          const out = await lab.exec(r);
          return out.kind === "exited" && r.argv[0] === "systemctl"
            ? { ...out, stdout: out.stdout.replace(/CPUUsageNSec=\d+/g, "CPUUsageNSec=[not set]") }
            : out;
        },
      }),
    });
    const result = await world.run("services");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "cpu_load_high", subject: "load15" }),
    ]);
  });

  it("takes the unit list from config host.critical_services over the baseline's", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      expected: { critical_services: ["sshd.service", "cups.service"] },
    });
    const result = await world.run("services");
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "unit_inactive",
        subject: "cups.service",
        observed: "not-found",
      }),
    ]);
  });

  it("reads systemctl show as documented: blocks per unit, failed and crash-looping units", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("systemctl", { stdout: fixture(here, "systemctl-show-critical.txt") }),
    });
    const result = await world.run("services");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "unit_failed", subject: "sshd.service", observed: 4 }),
      expect.objectContaining({
        code: "unit_failed",
        subject: "systemd-journald.service",
        observed: "failed (exit-code)",
      }),
    ]);
    expect(MAX_AUTOMATIC_RESTARTS).toBe(3);
  });

  it("is an error, not a pass, when systemctl leaves a unit out", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("systemctl", { stdout: fixture(here, "systemctl-show-not-found.txt") }),
    });
    expect(await world.run("services")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/did not describe auditd.service/),
    });
  });

  it.each([
    ["a line without =", "Id=sshd.service\ngarbage\n"],
    [
      "a non-numeric restart count",
      fixture(here, "systemctl-show-critical.txt").replace("NRestarts=4", "NRestarts=many"),
    ],
  ])("is an error for malformed systemctl output (%s)", async (_, stdout) => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("systemctl", { stdout }),
    });
    expect((await world.run("services")).status).toBe("error");
  });

  it("measures recorded df output, ignoring pseudo file systems", async () => {
    const rows = parseDf(fixture(here, "df.txt"));
    expect(rows?.map((r) => r.target)).toEqual(["/dev", "/dev/shm", "/", "/sys/fs/cgroup"]);
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("df", { stdout: fixture(here, "df.txt") }),
    });
    const result = await world.run("services");
    expect(result.status).toBe("pass");
    expect(Object.keys(result.pre_state ?? {}).filter((k) => k.startsWith("disk:"))).toEqual([
      "disk:/.free_percent",
    ]);
  });

  it("is an error when df exits non-zero or prints another layout", async () => {
    for (const output of [
      { stdout: fixture(here, "df.txt"), code: 1, stderr: "df: /mnt/x: Permission denied\n" },
      { stdout: "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/vda 1 1 1 1% /\n" },
      { stdout: "Mounted on Type 1B-blocks Used Avail\n" },
    ]) {
      const world = await labCheckWorld({ clock: instantClock, host: withOutput("df", output) });
      expect((await world.run("services")).status).toBe("error");
    }
  });

  it("reads the recorded /proc/loadavg and CPU list", async () => {
    expect(countCpus(fixture(here, "cpu-online.txt"))).toBe(2);
    expect(countCpus("0-3,6,8-9\n")).toBe(7);
    expect(countCpus("zero\n")).toBeUndefined();
    const loadavg = fixture(here, "proc-loadavg.txt");
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab): Host => ({
        ...lab,
        readFile: async (path, max) =>
          path === "/proc/loadavg" ? loadavg : lab.readFile(path, max),
      }),
    });
    const result = await world.run("services");
    expect(result.pre_state?.load15_per_core).toBe(
      Math.round((Number(loadavg.split(" ")[2]) / 4) * 100) / 100,
    );
  });

  it("is an error when the load average cannot be read", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab): Host => ({
        ...lab,
        readFile: async (p, m) => (p === "/proc/loadavg" ? undefined : lab.readFile(p, m)),
      }),
    });
    expect((await world.run("services")).status).toBe("error");
  });

  it.each([
    [
      { kind: "sshd_password_auth" },
      [["sshd_password_auth_enabled", "passwordauthentication", "yes"]],
    ],
    [
      { kind: "sshd_root_login" },
      [["sshd_root_login_permitted", "permitrootlogin", "without-password"]],
    ],
    [{ kind: "sshd_log_level" }, [["sshd_log_level_drift", "loglevel", "INFO"]]],
    [{ kind: "sshd_no_idle_timeout" }, [["sshd_idle_timeout_drift", "channeltimeout", "none"]]],
    [
      { kind: "sshd_weak_crypto" },
      [
        ["sshd_crypto_drift", "ciphers", "aes256-ctr,aes128-cbc"],
        ["sshd_crypto_drift", "macs", "hmac-sha2-256,hmac-sha1"],
      ],
    ],
  ] as const)("reports sshd drift %o", async (drift, expected) => {
    const result = await (await labCheckWorld({ drifts: [drift], clock: instantClock })).run(
      "services",
    );
    expect(result.findings.map((f) => [f.code, f.subject, f.observed])).toEqual(expected);
  });

  it("reads recorded sshd -T output: the baseline configuration passes, the drifted one is named", async () => {
    const clean = await (
      await labCheckWorld({
        clock: instantClock,
        host: withOutput("sshd", { stdout: SSHD_T_BASELINE }),
      })
    ).run("services");
    expect(clean.status).toBe("pass");
    expect(clean.pre_state).toMatchObject({
      "sshd.channeltimeout": "session=15m",
      "sshd.loglevel": "VERBOSE",
    });
    const drifted = await (
      await labCheckWorld({
        clock: instantClock,
        host: withOutput("sshd", { stdout: fixture(here, "sshd-T-drift.txt") }),
      })
    ).run("services");
    expect(drifted.findings.map((f) => f.code)).toEqual([
      "sshd_password_auth_enabled",
      "sshd_root_login_permitted",
      "sshd_log_level_drift",
      "sshd_idle_timeout_drift",
      "sshd_crypto_drift",
    ]);
    expect(drifted.citations).toContain("45 CFR 164.312(d)");
  });

  it("the lab's sshd prints the recorded bytes", async () => {
    const world = await labCheckWorld({ clock: instantClock });
    const out = await world.host.exec({
      argv: ["sshd", "-T"],
      timeoutMs: 1000,
      maxOutputBytes: 1 << 20,
    });
    expect(out).toMatchObject({ kind: "exited", stdout: SSHD_T_BASELINE });
  });

  it("is an error when sshd -T cannot read the host keys (recorded, unprivileged) or prints less than it always does", async () => {
    const refused = await (
      await labCheckWorld({
        clock: instantClock,
        host: withOutput("sshd", {
          stdout: "",
          code: 1,
          stderr: fixture(here, "sshd-T-unprivileged.stderr.txt"),
        }),
      })
    ).run("services");
    expect(refused).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/no hostkeys available/),
    });
    const partial = SSHD_T_BASELINE.split("\n")
      .filter((l) => !l.startsWith("ciphers "))
      .join("\n");
    const cut = await (
      await labCheckWorld({ clock: instantClock, host: withOutput("sshd", { stdout: partial }) })
    ).run("services");
    expect(cut).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/did not print ciphers/),
    });
  });

  it("reads sshd's settings and time format", () => {
    expect(parseSshdT("port 22\nhostkey /a\nhostkey /b\n")?.get("hostkey")).toBe("/a");
    expect(parseSshdT("Port 22\n")).toBeUndefined();
    expect(parseSshdT("")).toBeUndefined();
    expect([
      sshdSeconds("15m"),
      sshdSeconds("900"),
      sshdSeconds("1h30m"),
      sshdSeconds("15x"),
    ]).toEqual([900, 900, 5400, undefined]);
  });
});
