import { describe, expect, it } from "vitest";
import { Finding } from "#protocol";
import { evaluateExceptions } from "./exceptions.ts";
import type { ClientException } from "./exceptions-schema.ts";

const exception = (toggle: string, expires_on: string): ClientException => ({
  toggle,
  reason: "A documented business need.",
  risk: "medium",
  compensating_control: "Something else that lowers the risk.",
  owner: "Practice owner",
  approved_by: "MSP compliance lead",
  approved_on: "2026-01-10",
  expires_on,
});

describe("evaluateExceptions", () => {
  const all = [
    exception("ssh-idle-timeout", "2026-11-24"),
    exception("cpu-load-max", "2026-11-25"),
    exception("backup-retention", "2027-06-30"),
  ];

  it("splits at today: an exception holds through its expiry day", () => {
    const status = evaluateExceptions(all, "2026-11-25");
    expect(status.active.map((e) => e.toggle)).toEqual(["cpu-load-max", "backup-retention"]);
    expect(status.expired.map((e) => e.toggle)).toEqual(["ssh-idle-timeout"]);
  });

  it("turns every expired exception into a protocol finding", () => {
    const { findings } = evaluateExceptions(all, "2027-07-01");
    expect(findings.map((f) => [f.code, f.subject])).toEqual([
      ["exception_expired", "ssh-idle-timeout"],
      ["exception_expired", "cpu-load-max"],
      ["exception_expired", "backup-retention"],
    ]);
    for (const finding of findings) expect(Finding.safeParse(finding).success).toBe(true);
  });

  it("refuses a today that is not a calendar date", () => {
    expect(() => evaluateExceptions(all, "25/11/2026")).toThrow(RangeError);
  });
});
