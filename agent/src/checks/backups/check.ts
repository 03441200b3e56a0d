import { join } from "node:path";
import { z } from "zod";
import type { CheckFinding, DriftCheck, PreState } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import {
  DAY_MS,
  firstLine,
  HOUR_MS,
  numericToggle,
  parseTime,
  runTool,
  tenths,
} from "../support.ts";
import { showUnits, unitById } from "../systemd-show.ts";

/** One element of `restic snapshots --json` (restic 0.14+); extra fields are allowed. */
const ResticSnapshot = z.looseObject({
  time: z.string(),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  tree: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
const ResticSnapshots = z.array(ResticSnapshot);

/**
 * The record the test-restore runbook (backup.test_restore) leaves in restoreTestDir/<job>.json:
 * its recent runs, newest last. Counts and hashes only.
 */
export const RestoreTestRecord = z.strictObject({
  job: z.string(),
  runs: z.array(
    z.strictObject({
      snapshot_id: z.string().regex(/^[0-9a-f]{64}$/),
      finished_at: z.iso.datetime({ offset: false }),
      result: z.enum(["passed", "failed"]),
      files_checked: z.int().min(0),
    }),
  ),
});
export type RestoreTestRecord = z.infer<typeof RestoreTestRecord>;

export const restoreTestPath = (dir: string, job: string) => join(dir, `${job}.json`);

export const backups = {
  id: "backups",
  title: "Backups are fresh and a test restore passed recently",
  citations: [
    "45 CFR 164.308(a)(7)(ii)(A)",
    "45 CFR 164.308(a)(7)(ii)(B)",
    "45 CFR 164.308(a)(7)(ii)(D)",
  ],
  severity: "high",
  findings: ["backup_failed", "backup_stale", "restore_test_overdue"],
  async run(host, context) {
    const { baseline, expected } = context;
    if (!baseline) return skipped("no baseline: the agent has no catalog_dir");
    const maxAgeH = numericToggle(baseline, "backup-max-age-hours");
    const restoreDays = numericToggle(baseline, "restore-test-weekly");
    if (maxAgeH === undefined || restoreDays === undefined) {
      return skipped("the baseline lacks backup-max-age-hours or restore-test-weekly");
    }
    if (expected.backup_jobs.length === 0)
      return skipped("config host.backup_jobs is empty: no backup job to check");
    const now = context.now().getTime();
    const findings: CheckFinding<"backups">[] = [];
    const state: PreState = {};
    const units = expected.backup_jobs.map((job) => `restic-backups-${job}.service`);
    const show = await showUnits(
      host,
      context,
      ["Id", "LoadState", "ActiveState", "Result"],
      units,
    );
    if (!show.ok) return failed(show.reason);
    const blocks = show.units;

    for (const job of expected.backup_jobs) {
      const unit = unitById(blocks, `restic-backups-${job}.service`);
      const result = unit?.get("Result");
      if (!unit || !result || !unit.get("ActiveState"))
        return failed(`systemctl show did not describe ${job}'s unit`);
      state[`${job}.unit_result`] = result;
      if (unit.get("LoadState") !== "loaded") {
        findings.push({
          code: "backup_failed",
          subject: job,
          expected: "a loaded restic-backups unit",
          observed: unit.get("LoadState") ?? null,
        });
      } else if (result !== "success" || unit.get("ActiveState") === "failed") {
        findings.push({
          code: "backup_failed",
          subject: job,
          expected: "success",
          observed: result,
        });
      }

      const snaps = await runTool(host, context, [
        `restic-${job}`,
        "snapshots",
        "--json",
        "--latest",
        "1",
      ]);
      if (!snaps.ok) return failed(snaps.reason);
      if (snaps.code !== 0)
        return failed(`restic-${job} snapshots exited ${snaps.code}: ${firstLine(snaps.stderr)}`);
      let list: z.infer<typeof ResticSnapshots>;
      try {
        list = ResticSnapshots.parse(JSON.parse(snaps.stdout));
      } catch {
        return failed(
          `restic-${job} snapshots --json printed something that is not a snapshot list`,
        );
      }
      const times = list.map((s) => ({ s, t: parseTime(s.time) }));
      if (times.some((x) => x.t === undefined))
        return failed(`restic-${job} printed a snapshot time it cannot read`);
      const latest = times.sort((a, b) => (b.t as number) - (a.t as number))[0];
      if (!latest) {
        state[`${job}.latest_snapshot`] = null;
        findings.push({
          code: "backup_stale",
          subject: job,
          expected: `a snapshot within ${maxAgeH} h`,
          observed: "no snapshot",
        });
      } else {
        const ageH = (now - (latest.t as number)) / HOUR_MS;
        state[`${job}.latest_snapshot`] = latest.s.id;
        state[`${job}.backup_age_h`] = tenths(ageH);
        if (ageH > maxAgeH) {
          findings.push({
            code: "backup_stale",
            subject: job,
            expected: `at most ${maxAgeH} h old`,
            observed: tenths(ageH),
          });
        }
      }

      const text = await host.readFile(restoreTestPath(context.restoreTestDir, job), 256 * 1024);
      let lastPassed: number | undefined;
      if (text !== undefined) {
        let record: RestoreTestRecord;
        try {
          record = RestoreTestRecord.parse(JSON.parse(text));
        } catch {
          return failed(`the test-restore record of ${job} is malformed`);
        }
        if (record.job !== job)
          return failed(`the test-restore record of ${job} names job ${record.job.slice(0, 64)}`);
        const passed = record.runs
          .filter((r) => r.result === "passed")
          .map((r) => Date.parse(r.finished_at));
        lastPassed = passed.length > 0 ? Math.max(...passed) : undefined;
      }
      const ageD = lastPassed === undefined ? null : (now - lastPassed) / DAY_MS;
      state[`${job}.restore_test_age_d`] = ageD === null ? null : tenths(ageD);
      if (ageD === null || ageD > restoreDays) {
        findings.push({
          code: "restore_test_overdue",
          subject: job,
          expected: `a passing test restore within ${restoreDays} days`,
          observed: ageD === null ? "never" : tenths(ageD),
        });
      }
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"backups">;
