import { describe, expect, it } from "vitest";
import { DRIFT_CHECK_IDS } from "#catalog";
import { EvidenceEvent } from "#protocol";
import { acceleratedClock, type Host } from "../ports.ts";
import type { DriftCheck } from "./contract.ts";
import { CHECKS } from "./registry.ts";
import { type CheckRunnerOptions, createCheckRunner, everyInterval } from "./runner.ts";
import { instantClock, labCheckWorld, RESTORE_TEST_DIR, repoBaseline } from "./testing.ts";

const signal = () => new AbortController().signal;

/** A runner over `host` with only the given (test) checks. */
const runnerWith = async (host: Host, checks: CheckRunnerOptions["checks"]) =>
  createCheckRunner({
    host,
    baseline: await repoBaseline(),
    expected: { backup_jobs: [], luks_volumes: [] },
    restoreTestDir: RESTORE_TEST_DIR,
    clock: instantClock,
    checkTimeoutMs: 1000,
    toolTimeoutMs: 1000,
    checks,
  });

describe("the check runner", () => {
  it("runs all six in catalog order, each result valid check_result evidence", async () => {
    const world = await labCheckWorld({ clock: instantClock });
    const results = await world.runner.runAll(signal());
    expect(results.map((r) => r.check_id)).toEqual(DRIFT_CHECK_IDS);
    for (const r of results) {
      expect(EvidenceEvent.parse(r)).toEqual(r);
      expect(r).toMatchObject({ kind: "check_result", status: "pass", findings: [] });
      expect(r.citations).toEqual([...CHECKS[r.check_id as keyof typeof CHECKS].citations].sort());
      expect(r.duration_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("isolates checks: one that throws, one that hangs; the others still pass", async () => {
    const baseline = await repoBaseline();
    const world = await labCheckWorld({ clock: instantClock });
    const throws: DriftCheck<"patching"> = {
      ...CHECKS.patching,
      run: async () => {
        throw new Error("boom");
      },
    };
    const hangs: DriftCheck<"services"> = { ...CHECKS.services, run: () => new Promise(() => {}) };
    const runner = createCheckRunner({
      host: world.host,
      baseline,
      expected: {
        backup_jobs: ["clinic-data"],
        luks_volumes: ["cryptroot", "cryptdata"],
        firewall_ruleset_path: "/etc/compliance-agent/firewall-baseline.json",
      },
      restoreTestDir: RESTORE_TEST_DIR,
      clock: instantClock,
      checkTimeoutMs: 200,
      toolTimeoutMs: 100,
      checks: { ...CHECKS, patching: throws, services: hangs },
    });
    const results = await runner.runAll(signal());
    expect(results.map((r) => [r.check_id, r.status])).toEqual([
      ["patching", "error"],
      ["services", "error"],
      ["backups", "pass"],
      ["firewall", "pass"],
      ["logging", "pass"],
      ["encryption", "pass"],
    ]);
    expect(results[0]?.reason).toBe("patching failed: boom");
    expect(results[1]?.reason).toBe("services did not finish within 200 ms");
  });

  it("turns a finding the catalog does not declare into an error, never evidence of drift", async () => {
    const world = await labCheckWorld({ clock: instantClock });
    const liar = {
      ...CHECKS.firewall,
      run: async () => ({ status: "drift", findings: [{ code: "port_scan_detected" }], state: {} }),
    } as unknown as DriftCheck<"firewall">;
    const runner = await runnerWith(world.host, { firewall: liar });
    expect(await runner.runOne("firewall", signal())).toMatchObject({
      status: "error",
      reason: "firewall reported undeclared finding port_scan_detected",
      findings: [],
    });
  });

  it("gives drift the citations and highest severity of the toggles it breaks, and clips to the schema", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "cpu_load_high" }, { kind: "service_stopped", unit: "chronyd.service" }],
      clock: instantClock,
    });
    const result = await world.run("services");
    // cpu-load-max (low, 164.308(a)(1)(ii)(B)) and time-sync-chrony (medium, 164.312(b)).
    expect(result.severity).toBe("medium");
    expect(result.citations).toEqual(["45 CFR 164.308(a)(1)(ii)(B)", "45 CFR 164.312(b)"]);
    const loud = {
      ...CHECKS.services,
      run: async () => ({
        status: "drift",
        findings: Array.from({ length: 80 }, (_, i) => ({
          code: "unit_failed",
          subject: `${"u".repeat(300)}${i}`,
          observed: "x".repeat(2000),
        })),
        state: Object.fromEntries(
          Array.from({ length: 100 }, (_, i) => [`9 key ${i}`, "v".repeat(900)]),
        ),
      }),
    } as unknown as DriftCheck<"services">;
    const runner = await runnerWith(world.host, { services: loud });
    const clipped = await runner.runOne("services", signal());
    expect(EvidenceEvent.safeParse(clipped).success).toBe(true);
    expect(clipped.findings).toHaveLength(64);
  });

  it("stops every check when its signal aborts", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "tool_hangs", program: "systemctl" }],
      clock: instantClock,
      toolTimeoutMs: 60_000,
      checkTimeoutMs: 60_000,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const results = await world.runner.runAll(controller.signal);
    expect(results.find((r) => r.check_id === "services")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/aborted|stopped/),
    });
  });

  it("runs only every check interval on the agent's clock", async () => {
    const clock = acceleratedClock(new Date("2026-11-25T00:00:00Z"));
    let runs = 0;
    const counted = everyInterval(
      {
        run: async () => {
          runs++;
          return [];
        },
      },
      300_000,
      clock,
    );
    for (let minute = 0; minute < 30; minute++) {
      await counted.run(signal());
      clock.advance(60_000);
    }
    expect(runs).toBe(6);
  });
});
