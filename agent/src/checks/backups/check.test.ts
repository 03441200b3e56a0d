import { describe, expect, it } from "vitest";
import type { Host } from "../../ports.ts";
import { fixture, instantClock, labCheckWorld, RESTORE_TEST_DIR, withOutput } from "../testing.ts";
import { RestoreTestRecord, restoreTestPath } from "./check.ts";

const here = import.meta.dirname;
const JOB = "restic-clinic-data";
/** The recorded snapshot was taken 2026-11-25T14:05:47Z; the record's last pass is 2026-11-19. */
const at = (iso: string) => ({ ...instantClock, now: () => new Date(iso) });

/** The lab host, but the test-restore record read from the fixture. */
const withRecord =
  (text: string | undefined) =>
  (lab: Host): Host => ({
    ...lab,
    readFile: async (path, max) =>
      path === restoreTestPath(RESTORE_TEST_DIR, "clinic-data") ? text : lab.readFile(path, max),
  });

describe("backups", () => {
  it("passes on the clean lab appliance", async () => {
    const result = await (await labCheckWorld({ clock: instantClock })).run("backups");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      "clinic-data.unit_result": "success",
      "clinic-data.latest_snapshot": expect.stringMatching(/^[0-9a-f]{64}$/),
      "clinic-data.backup_age_h": 6,
      "clinic-data.restore_test_age_d": 2,
    });
  });

  it.each([
    [
      { kind: "backup_failed", job: "clinic-data" },
      { code: "backup_failed", subject: "clinic-data", observed: "exit-code" },
    ],
    [
      { kind: "backup_stale", job: "clinic-data", hours: 30 },
      { code: "backup_stale", subject: "clinic-data", observed: 30 },
    ],
    [
      { kind: "restore_test_overdue", job: "clinic-data", days: 8 },
      { code: "restore_test_overdue", subject: "clinic-data", observed: 8 },
    ],
  ] as const)("reports %o", async (drift, finding) => {
    const result = await (await labCheckWorld({ drifts: [drift], clock: instantClock })).run(
      "backups",
    );
    expect(result.status).toBe("drift");
    expect(result.findings).toEqual([expect.objectContaining(finding)]);
  });

  it("takes the age limit from the baseline (26 h): 25.9 h passes", async () => {
    const result = await (
      await labCheckWorld({
        drifts: [{ kind: "backup_stale", job: "clinic-data", hours: 25.9 }],
        clock: instantClock,
      })
    ).run("backups");
    expect(result.status).toBe("pass");
  });

  it("reads recorded restic snapshots --json output (nanosecond times)", async () => {
    const world = await labCheckWorld({
      clock: at("2026-11-25T20:00:00Z"),
      host: (lab) =>
        withRecord(fixture(here, "restore-test-record.json"))(
          withOutput(JOB, { stdout: fixture(here, "restic-snapshots-latest.json") })(lab),
        ),
    });
    const result = await world.run("backups");
    expect(result.pre_state).toMatchObject({
      "clinic-data.latest_snapshot":
        "e5cba7c2f3321c6ab64fc7ec49d2c24f488e66a2974d70d439bfa66c84f82b28",
      "clinic-data.backup_age_h": 5.9,
      "clinic-data.restore_test_age_d": 6.7, // the later failed run does not count
    });
    expect(result.status).toBe("pass");
  });

  it("reports a repository with no snapshot at all as stale", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput(JOB, { stdout: fixture(here, "restic-snapshots-empty.json") }),
    });
    const result = await world.run("backups");
    expect(result.findings).toEqual([
      expect.objectContaining({ code: "backup_stale", observed: "no snapshot" }),
    ]);
  });

  it("reads the documented systemctl output of a failed backup run", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("systemctl", { stdout: fixture(here, "systemctl-show-backup-failed.txt") }),
    });
    expect((await world.run("backups")).findings).toEqual([
      expect.objectContaining({
        code: "backup_failed",
        subject: "clinic-data",
        observed: "exit-code",
      }),
    ]);
  });

  it("is an error when restic cannot open the repository (recorded message)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput(JOB, {
        stdout: "",
        code: 1,
        stderr: fixture(here, "restic-wrong-password.stderr.txt"),
      }),
    });
    expect(await world.run("backups")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/wrong password/),
    });
  });

  it.each([
    ["not JSON", "ID Time Host Tags Paths\n"],
    ["an object", '{"id":"x"}'],
    ["a short id", '[{"time":"2026-11-25T14:05:47.8Z","id":"e5cba7c2"}]'],
    ["an unreadable time", `[{"time":"yesterday","id":"${"a".repeat(64)}"}]`],
  ])("is an error for malformed snapshot output (%s)", async (_, stdout) => {
    const world = await labCheckWorld({ clock: instantClock, host: withOutput(JOB, { stdout }) });
    expect((await world.run("backups")).status).toBe("error");
  });

  it("reports a missing test-restore record as overdue (never restored), and a malformed one as error", async () => {
    const never = await (
      await labCheckWorld({ clock: instantClock, host: withRecord(undefined) })
    ).run("backups");
    expect(never.findings).toEqual([
      expect.objectContaining({ code: "restore_test_overdue", observed: "never" }),
    ]);
    const bad = await (
      await labCheckWorld({ clock: instantClock, host: withRecord('{"job":"clinic-data"}') })
    ).run("backups");
    expect(bad.status).toBe("error");
    const other = await (
      await labCheckWorld({
        clock: instantClock,
        host: withRecord(JSON.stringify({ job: "other", runs: [] })),
      })
    ).run("backups");
    expect(other.status).toBe("error");
  });

  it("is skipped without configured backup jobs", async () => {
    const result = await (
      await labCheckWorld({ clock: instantClock, expected: { backup_jobs: [] } })
    ).run("backups");
    expect(result).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/backup_jobs/),
    });
  });

  it("the record fixture matches the record schema", () => {
    expect(
      RestoreTestRecord.safeParse(JSON.parse(fixture(here, "restore-test-record.json"))).success,
    ).toBe(true);
  });
});
