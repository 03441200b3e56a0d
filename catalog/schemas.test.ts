import { describe, expect, it } from "vitest";
import { Remediation, UnitPattern, unitAllowed } from "./baseline-schema.ts";
import { Duration, durationMs } from "./duration.ts";
import { ClientException } from "./exceptions-schema.ts";
import { NixOptionPath } from "./shared-schemas.ts";

describe("Remediation", () => {
  it.each([
    [{ runbook: "RB-DISK-001-full" }, true],
    [{ alert_only: "A person decides what to do about this." }, true],
    [{}, false],
    [{ runbook: "RB-DISK-001-full", alert_only: "Both at once is ambiguous." }, false],
    [{ runbook: "disk-full" }, false],
    [{ alert_only: "short" }, false],
  ])("%j is valid: %s", (value, valid) => {
    expect(Remediation.safeParse(value).success).toBe(valid);
  });
});

describe("allowed units", () => {
  const baseline = {
    allowed_units: [
      { pattern: "sshd.service", reason: "remote access" },
      { pattern: "restic-backups-*.service", reason: "one unit per backup job" },
    ],
  };
  it.each([
    ["sshd.service", true],
    ["restic-backups-clinic-data.service", true],
    ["restic-backups-.service", false],
    ["restic-backups-a.b.service", false],
    ["sshdXservice", false],
    ["sshd.socket", false],
    ["compliance-agent.service", false],
    ["sshd.service; reboot", false],
  ])("%s allowed: %s", (unit, allowed) => {
    expect(unitAllowed(baseline, unit)).toBe(allowed);
  });

  it.each([
    ["sshd.service", true],
    ["restic-backups-*.service", true],
    ["*-*.service", false],
    ["sshd", false],
    ["ssh d.service", false],
  ])("pattern %s valid: %s", (pattern, valid) => {
    expect(UnitPattern.safeParse({ pattern, reason: "a good enough reason" }).success).toBe(valid);
  });
});

describe("NixOptionPath", () => {
  it.each([
    ["services.openssh.settings.PermitRootLogin", true],
    ["boot.initrd.luks.devices.<name>.device", true],
    ["swapDevices.*.randomEncryption.enable", true],
    ["services.compliance-agent.tls.minVersion", true],
    ["services", false],
    ["services.openssh.settings.PermitRootLogin = no", false],
    ["services..openssh", false],
  ])("%s valid: %s", (path, valid) => {
    expect(NixOptionPath.safeParse(path).success).toBe(valid);
  });
});

describe("ClientException", () => {
  const base = {
    toggle: "ssh-idle-timeout",
    reason: "Vendor import needs a long idle session.",
    risk: "low",
    compensating_control: "Management network only, key-only logins.",
    owner: "Practice owner",
    approved_by: "MSP compliance lead",
    approved_on: "2026-11-20",
    expires_on: "2027-12-31",
  };
  it.each([
    [{}, true],
    [{ expires_on: "2026-11-20" }, true],
    [{ expires_on: "2026-11-19" }, false],
    [{ expires_on: "2027-02-30" }, false],
    [{ expires_on: "31.12.2027" }, false],
    [{ risk: "critical" }, false],
    [{ approved_by: undefined }, false],
    [{ note: "extra" }, false],
  ])("%j is valid: %s", (change, valid) => {
    expect(ClientException.safeParse({ ...base, ...change }).success).toBe(valid);
  });
});

describe("Duration", () => {
  it.each([
    ["90s", 90_000],
    ["15m", 900_000],
    ["6h", 21_600_000],
    ["7d", 604_800_000],
  ])("%s is %i ms", (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each([
    ["5m", true],
    ["2h", true],
    ["9s", false],
    ["3h", false],
    ["0m", false],
    ["10 minutes", false],
    ["1.5h", false],
  ])("timeout %s valid: %s", (text, valid) => {
    expect(Duration("10s", "2h").safeParse(text).success).toBe(valid);
  });
});
