import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../store/postgres/test-database.ts";
import { runExclusive, startMonthlyJob, startScheduledJob } from "./lease.ts";

const silent = { log() {} };
const pg = await postgresReachable();

/** Two Store connections to one database stand for two control-plane instances. */
const backends: [string, () => Promise<{ a: Store; b: Store; cleanup: () => Promise<void> }>][] = [
  [
    "SQLite",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cp-jobs-"));
      const file = join(dir, "cp.sqlite");
      return {
        a: openSqliteStore(file),
        b: openSqliteStore(file),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];
if (pg) {
  backends.push([
    "PostgreSQL",
    async () => {
      const { schema, drop } = await createTestSchema();
      const open = () => openPostgresStore({ connectionString: TEST_DATABASE_URL, schema });
      return { a: open(), b: open(), cleanup: drop };
    },
  ]);
}

describe.each(backends)("runExclusive across two instances: %s", (_name, open) => {
  let a: Store;
  let b: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, cleanup } = await open());
    await a.migrate();
    await b.migrate();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await cleanup();
  });

  it("runs a job on one instance only while it runs", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const job = async () => {
      running++;
      runs++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return runs;
    };
    const results = await Promise.all([
      runExclusive(a, "checkpoint", job, { holder: "a", ttlMs: 90 }), // renewed while it runs
      runExclusive(b, "checkpoint", job, { holder: "b", ttlMs: 90 }),
    ]);
    expect(results.filter((r) => r.ran)).toHaveLength(1);
    expect(results.find((r) => !r.ran)).toEqual({ ran: false, reason: "held" });
    expect(most).toBe(1);
    // Released on completion: the other instance takes it next time.
    expect((await runExclusive(b, "checkpoint", job, { holder: "b" })).ran).toBe(true);
  });

  it("a once-per-period job runs exactly once, and again after a failed attempt", async () => {
    let runs = 0;
    await expect(
      runExclusive(
        a,
        "packets:2026-11",
        async () => {
          runs++;
          throw new Error("archive unreachable");
        },
        { holder: "a", once: true },
      ),
    ).rejects.toThrow("archive unreachable");
    const job = async () => ++runs;
    const results = await Promise.all([
      runExclusive(a, "packets:2026-11", job, { holder: "a", once: true }),
      runExclusive(b, "packets:2026-11", job, { holder: "b", once: true }),
    ]);
    expect(results.filter((r) => r.ran)).toHaveLength(1);
    expect(await runExclusive(b, "packets:2026-11", job, { holder: "b", once: true })).toEqual({
      ran: false,
      reason: "completed",
    });
    expect(runs).toBe(2); // the failed attempt and one success
  });

  it("scheduled on two instances, the job never overlaps itself", async () => {
    let running = 0;
    let overlap = false;
    let runs = 0;
    const job = async () => {
      running++;
      if (running > 1) overlap = true;
      runs++;
      await new Promise((r) => setTimeout(r, 60));
      running--;
    };
    const deps = (holder: string) => ({ logger: silent, holder, ttlMs: 1000 });
    const jobs = [
      startScheduledJob(a, "vault", 0.05, job, deps("a")),
      startScheduledJob(b, "vault", 0.05, job, deps("b")),
    ];
    await new Promise((r) => setTimeout(r, 700));
    await Promise.all(jobs.map((j) => j.stop()));
    expect(overlap).toBe(false);
    expect(runs).toBeGreaterThan(2);
  });

  it("a monthly job on two instances runs once per month, for the month that ended", async () => {
    const months: string[] = [];
    let clock = new Date("2026-12-01T00:05:00Z");
    const deps = (holder: string) => ({
      logger: silent,
      holder,
      checkEveryS: 0.03,
      now: () => clock,
    });
    const job = async (month: string) => {
      months.push(month);
      await new Promise((r) => setTimeout(r, 40));
    };
    const jobs = [
      startMonthlyJob(a, "monthly", job, deps("a")),
      startMonthlyJob(b, "monthly", job, deps("b")),
    ];
    await new Promise((r) => setTimeout(r, 300));
    clock = new Date("2027-01-01T03:00:00Z");
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(jobs.map((j) => j.stop()));
    expect(months).toEqual(["2026-11", "2026-12"]);
  });
});
