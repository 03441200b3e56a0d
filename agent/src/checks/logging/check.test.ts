import { describe, expect, it } from "vitest";
import type { ExecResult, Host } from "../../ports.ts";
import { fixture, instantClock, labCheckWorld, withOutput } from "../testing.ts";
import {
  CANARY_TAG,
  journalHasMessage,
  parseAuditEnabled,
  parseAuditRules,
  parseDiskUsage,
  parseJournaldConf,
} from "./check.ts";

const here = import.meta.dirname;
const exited = (stdout: string): ExecResult => ({
  kind: "exited",
  code: 0,
  stdout,
  stderr: "",
  truncated: false,
});

/**
 * The recorded journal: logger "writes" the canary, journalctl answers with the recorded entry
 * carrying whatever message was written (or, `echo: false`, the recorded message only).
 */
function recordedJournal(options: { echo: boolean }) {
  return (lab: Host): Host => {
    let written = "";
    const recorded = fixture(here, "journalctl-canary.json");
    return {
      ...lab,
      exec: async (request) => {
        const [program, ...args] = request.argv;
        if (program === "logger") {
          written = args.at(-1) ?? "";
          return exited("");
        }
        if (program === "journalctl" && args.includes("-o")) {
          const entry = JSON.parse(recorded) as Record<string, string>;
          if (options.echo) entry.MESSAGE = written;
          return exited(`${JSON.stringify(entry)}\n`);
        }
        if (program === "journalctl") return exited(fixture(here, "journalctl-disk-usage.txt"));
        return lab.exec(request);
      },
      readFile: async (path, max) =>
        path === "/etc/systemd/journald.conf"
          ? fixture(here, "journald-persistent.conf")
          : lab.readFile(path, max),
    };
  };
}

describe("logging", () => {
  it("passes on the clean lab appliance: the canary comes back at once", async () => {
    const world = await labCheckWorld({ clock: instantClock });
    const result = await world.run("logging");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      journald_active_state: "active",
      canary_written: true,
      canary_seen_ms: expect.any(Number),
      storage: "persistent",
      system_max_use: "2G",
    });
    // The canary is in the lab's journal under our tag, and only our token (no other log line)
    // is in the evidence.
    expect(world.host.journal.at(-1)?.identifier).toBe(CANARY_TAG);
    expect(JSON.stringify(result)).not.toContain(world.host.journal.at(-1)?.message);
  });

  it.each([
    [{ kind: "journald_stopped" }, ["journald_inactive", "journald_inactive"]],
    [{ kind: "journald_dropping" }, ["journald_inactive"]],
    [{ kind: "journald_volatile" }, ["journald_not_persistent"]],
    [{ kind: "journal_oversize" }, ["journal_usage_high", "journal_usage_high"]],
    [{ kind: "audit_rules_cleared" }, ["audit_rules_missing"]],
    [{ kind: "audit_disabled" }, ["audit_rules_missing"]],
  ] as const)("reports %o", async (drift, codes) => {
    const result = await (await labCheckWorld({ drifts: [drift], clock: instantClock })).run(
      "logging",
    );
    expect(result.status).toBe("drift");
    expect(result.findings.map((f) => f.code)).toEqual(codes);
  });

  it("names the canary when journald runs but drops what it is sent", async () => {
    const result = await (
      await labCheckWorld({ drifts: [{ kind: "journald_dropping" }], clock: instantClock })
    ).run("logging");
    expect(result.findings[0]).toMatchObject({ subject: "canary", observed: "not found" });
    expect(result.pre_state).toMatchObject({ canary_written: true, canary_seen_ms: null });
  });

  it("finds the canary in recorded journalctl -o json output, and passes with the recorded settings", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: recordedJournal({ echo: true }),
    });
    const result = await world.run("logging");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      journal_bytes: 8 * 1024 * 1024,
      system_max_use: "2G",
    });
  });

  it("reports drift when the journal only holds another canary (an old or foreign one)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: recordedJournal({ echo: false }),
    });
    const result = await world.run("logging");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "journald_inactive", subject: "canary" }),
    ]);
  });

  it("reports drift when journalctl finds nothing (recorded empty output)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        exec: (r) =>
          r.argv[0] === "journalctl" && r.argv.includes("json")
            ? Promise.resolve(exited(fixture(here, "journalctl-empty.json")))
            : lab.exec(r),
      }),
    });
    expect((await world.run("logging")).findings.map((f) => f.subject)).toEqual(["canary"]);
  });

  it("reads the journald.conf NixOS writes (recorded from its template)", () => {
    expect(
      Object.fromEntries(parseJournaldConf(fixture(here, "journald-persistent.conf"))),
    ).toEqual({
      Storage: "persistent",
      RateLimitInterval: "30s",
      RateLimitBurst: "10000",
      SystemMaxUse: "2G",
    });
    expect(
      parseJournaldConf(fixture(here, "journald-volatile.conf")).get("SystemMaxUse"),
    ).toBeUndefined();
    expect(
      parseJournaldConf(
        "[Journal]\nStorage=auto\n[Other]\nStorage=none\n# x\nStorage=volatile\n",
      ).get("Storage"),
    ).toBe("auto");
  });

  it("reports a volatile journal without a size cap (recorded journald.conf)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        readFile: async (p, m) =>
          p === "/etc/systemd/journald.conf"
            ? fixture(here, "journald-volatile.conf")
            : lab.readFile(p, m),
      }),
    });
    const result = await world.run("logging");
    expect(result.findings.map((f) => [f.code, f.observed])).toEqual([
      ["journald_not_persistent", "volatile"],
      ["journal_usage_high", "unset"],
    ]);
  });

  it("reads journalctl --disk-usage (recorded) and systemd's size suffixes", () => {
    expect(parseDiskUsage(fixture(here, "journalctl-disk-usage.txt"))).toBe(8 * 1024 * 1024);
    expect(parseDiskUsage("Archived and active journals take up 1.5G in the file system.")).toBe(
      1.5 * 1024 ** 3,
    );
    expect(parseDiskUsage("No journal files were found.")).toBeUndefined();
  });

  it("refuses journalctl output that is not one JSON entry per line", () => {
    expect(
      journalHasMessage(
        fixture(here, "journalctl-canary.json"),
        "canary 0f8e2b6c-3d1a-4b7e-9c55-2a4d6e8f1b3c",
      ),
    ).toBe(true);
    expect(journalHasMessage("-- No entries --\n", "x")).toBeUndefined();
    expect(journalHasMessage("[1,2]\n", "x")).toBeUndefined();
    expect(journalHasMessage(`${JSON.stringify({ MESSAGE: [104, 105] })}\n`, "hi")).toBe(true);
  });

  it("is an error for malformed journalctl output and for an unreadable disk usage", async () => {
    const json = await (
      await labCheckWorld({
        clock: instantClock,
        host: withOutput("journalctl", { stdout: "-- Logs begin at --\n" }),
      })
    ).run("logging");
    expect(json.status).toBe("error");
  });

  it("reports logger failing (no syslog socket) as drift, not as a pass", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("logger", {
        stdout: "",
        code: 1,
        stderr: "logger: socket /dev/log: No such file or directory\n",
      }),
    });
    const result = await world.run("logging");
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "journald_inactive",
        subject: "canary",
        observed: "logger exited 1",
      }),
    ]);
  });

  it("names the unit that loads the audit rules, so RB-SERVICE-001 can restart it", async () => {
    const result = await (
      await labCheckWorld({ drifts: [{ kind: "audit_rules_cleared" }], clock: instantClock })
    ).run("logging");
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "audit_rules_missing",
        subject: "audit-rules-nixos.service",
        observed: "0 rules, enabled 1",
      }),
    ]);
    expect(result.citations).toEqual(["45 CFR 164.308(a)(1)(ii)(D)", "45 CFR 164.312(b)"]);
  });

  it("reads recorded auditctl output: rules, no rules, status", async () => {
    expect(parseAuditRules(fixture(here, "auditctl-rules.txt"))).toHaveLength(3);
    expect(parseAuditRules(fixture(here, "auditctl-no-rules.txt"))).toEqual([]);
    expect(parseAuditRules("-w /etc/passwd -p wa -k identity\nNo rules\n")).toBeUndefined();
    expect(parseAuditRules("")).toBeUndefined();
    expect(parseAuditEnabled(fixture(here, "auditctl-status-disabled.txt"))).toBe(0);
    expect(parseAuditEnabled("failure 1\n")).toBeUndefined();
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({
        ...lab,
        exec: (r) =>
          r.argv[0] === "auditctl"
            ? Promise.resolve(
                exited(
                  fixture(
                    here,
                    r.argv[1] === "-l" ? "auditctl-rules.txt" : "auditctl-status-disabled.txt",
                  ),
                ),
              )
            : lab.exec(r),
      }),
    });
    const result = await world.run("logging");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "audit_rules_missing", observed: "3 rules, enabled 0" }),
    ]);
    expect(result.pre_state?.audit_rules_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is an error when auditctl is refused (recorded: not root)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("auditctl", {
        stdout: "",
        code: 4,
        stderr: fixture(here, "auditctl-unprivileged.stderr.txt"),
      }),
    });
    expect(await world.run("logging")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/must be root/),
    });
  });
});
