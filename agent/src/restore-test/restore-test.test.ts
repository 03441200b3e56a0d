import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RestoreTestRecord } from "../checks/backups/check.ts";
import { linuxHost } from "../host/linux.ts";
import { runRestoreTest } from "./restore-test.ts";

// A real restic repository with a per-job wrapper, as NixOS's services.restic.backups.<job>
// creates it (restic-<job> carries the repository and password file).
const hasRestic = (() => {
  try {
    execFileSync("restic", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasRestic && !process.env.CI)(
  "the weekly test restore against a real restic repository",
  () => {
    const root = mkdtempSync(join(tmpdir(), "restore-test-"));
    const bin = join(root, "bin");
    const repo = join(root, "repo");
    const data = join(root, "clinic-data");
    const state = join(root, "state");
    const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: join(root, "pw") };
    let snapshotId = "";
    const originalPath = process.env.PATH;

    beforeAll(() => {
      mkdirSync(bin);
      mkdirSync(join(data, "charts"), { recursive: true });
      for (let i = 0; i < 12; i += 1) {
        writeFileSync(join(data, "charts", `file ${i}.txt`), `record ${i}\n`.repeat(100 + i));
      }
      writeFileSync(join(root, "pw"), "correct horse battery staple\n");
      execFileSync("restic", ["init", "--quiet"], { env });
      execFileSync("restic", ["backup", "--quiet", data], { env });
      const wrapper = join(bin, "restic-clinic");
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexport RESTIC_REPOSITORY='${repo}' RESTIC_PASSWORD_FILE='${join(root, "pw")}'\nexec restic "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
      process.env.PATH = `${bin}:${originalPath}`;
      const snaps = JSON.parse(execFileSync("restic", ["snapshots", "--json"], { env }).toString());
      snapshotId = snaps[0].id;
    }, 60_000);
    afterAll(() => {
      process.env.PATH = originalPath;
      rmSync(root, { recursive: true, force: true });
    });

    const options = (instance: string) => ({
      host: linuxHost,
      instance,
      backupJobs: ["clinic"],
      stateDir: state,
      scratchRoot: join(root, "scratch"),
      now: () => new Date("2026-11-25T10:00:00Z"),
      timeoutMs: 60_000,
    });
    const readRecord = () =>
      RestoreTestRecord.parse(
        JSON.parse(readFileSync(join(state, "restore-tests", "clinic.json"), "utf8")),
      );

    it("restores a random sample with restic's verification, records it and leaves no copy", async () => {
      const outcome = await runRestoreTest(options("5-clinic"));
      expect(outcome).toMatchObject({ result: "passed", snapshotId, filesChecked: 5 });
      const record = readRecord();
      expect(record.runs.at(-1)).toEqual({
        snapshot_id: snapshotId,
        finished_at: "2026-11-25T10:00:00Z",
        result: "passed",
        files_checked: 5,
      });
      // Counts and a snapshot id only: no file name reaches the record.
      expect(JSON.stringify(record)).not.toContain("file ");
      expect(readdirSync(join(root, "scratch"))).toEqual([]);
    }, 60_000);

    it("refuses an unknown job or a malformed instance and records nothing", async () => {
      const before = readFileSync(join(state, "restore-tests", "clinic.json"), "utf8");
      expect(await runRestoreTest(options("5-billing"))).toMatchObject({ result: "refused" });
      expect(await runRestoreTest(options("0-clinic"))).toMatchObject({ result: "refused" });
      expect(await runRestoreTest(options("5-clinic;rm"))).toMatchObject({ result: "refused" });
      expect(readFileSync(join(state, "restore-tests", "clinic.json"), "utf8")).toBe(before);
    });

    it("records a failure when the repository's data is damaged", async () => {
      for (const dir of readdirSync(join(repo, "data"))) {
        for (const pack of readdirSync(join(repo, "data", dir))) {
          const path = join(repo, "data", dir, pack);
          chmodSync(path, 0o644);
          const bytes = readFileSync(path);
          const at = Math.floor(bytes.length / 2);
          bytes[at] = (bytes[at] ?? 0) ^ 0xff;
          writeFileSync(path, bytes);
        }
      }
      const outcome = await runRestoreTest(options("12-clinic"));
      expect(outcome.result).toBe("failed");
      expect(readRecord().runs.at(-1)).toMatchObject({ result: "failed", snapshot_id: snapshotId });
      expect(existsSync(join(root, "scratch")) && readdirSync(join(root, "scratch"))).toEqual([]);
    }, 60_000);
  },
);
