import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LAB_BACKUP_JOB } from "../host/lab/index.ts";
import { drifted, HEALING_SCENARIOS } from "../testing/healing-drift.ts";
import {
  attempts,
  checkResult,
  createHealingLab,
  type HealingLab,
  type HealingLabOptions,
  OUT_OF_WINDOW,
  steps,
} from "../testing/healing-lab.ts";

/**
 * For each runbook of runbooks/: inject its drift on the lab appliance, run a cycle (real checks,
 * real healer, real journal), and see the heal (or, for L2/L3-only runbooks, the order path), the
 * verification and the evidence; then the next cycle finds the check passing again.
 */
let lab: HealingLab | undefined;
afterEach(() => {
  lab?.close();
  lab = undefined;
});
const GiB = 1024 ** 3;
const drift = (id: string): HealingLabOptions => {
  const scenario = HEALING_SCENARIOS[id];
  if (!scenario) throw new Error(`no drift scenario for ${id}`);
  return { mutate: scenario.mutate };
};

async function healsOnce(options: HealingLabOptions, check: string, runbookId: string) {
  lab = createHealingLab(options);
  const events = await lab.cycle();
  expect(checkResult(events, check)).toMatchObject({ status: "drift" });
  const [attempt] = attempts(events).filter((a) => a.runbook_id === runbookId);
  expect(attempt, JSON.stringify(attempts(events))).toMatchObject({
    outcome: "healed",
    tier: "L1",
    check_id: check,
    attempt: 1,
  });
  const done = steps(events).filter((s) => s.runbook_id === runbookId);
  expect(done.length).toBeGreaterThan(0);
  expect(done.every((s) => s.outcome === "succeeded")).toBe(true);
  expect(done.some((s) => s.phase === "step")).toBe(true);
  const after = await lab.cycle();
  expect(checkResult(after, check)).toMatchObject({ status: "pass" });
  expect(attempts(after)).toEqual([]);
  return { events, done };
}

describe("clean", () => {
  it("a clean lab appliance passes all six checks and nothing is healed", async () => {
    lab = createHealingLab();
    const events = await lab.cycle();
    for (const id of ["patching", "services", "backups", "firewall", "logging", "encryption"]) {
      expect(checkResult(events, id), id).toMatchObject({ status: "pass" });
    }
    expect(attempts(events)).toEqual([]);
    expect(steps(events)).toEqual([]);
  });
});

describe("each runbook heals its drift on the lab appliance", () => {
  it("covers every runbook of runbooks/", () => {
    const files = readdirSync(join(import.meta.dirname, "..", "..", "..", "runbooks"))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.replace(/-[a-z0-9-]+\.yaml$/, ""));
    expect(
      Object.keys(HEALING_SCENARIOS)
        .map((id) => id.replace(/-[a-z0-9-]+$/, ""))
        .sort(),
    ).toEqual(files.sort());
  });

  it("RB-SERVICE-001-crash: a failed chronyd is reset and restarted", async () => {
    const { done } = await healsOnce(
      drift("RB-SERVICE-001-crash"),
      "services",
      "RB-SERVICE-001-crash",
    );
    expect(done.map((s) => `${s.phase}:${s.action}`)).toEqual([
      "step:systemd.reset_failed",
      "step:systemd.restart",
      "verify:systemd.unit_active",
    ]);
    expect(lab?.host.state().units["chronyd.service"]?.active_state).toBe("active");
  });

  it("RB-SERVICE-001-crash: cleared kernel audit rules are reloaded by restarting their loader", async () => {
    const { done } = await healsOnce(
      { mutate: drifted({ kind: "audit_rules_cleared" }) },
      "logging",
      "RB-SERVICE-001-crash",
    );
    expect(done.find((s) => s.action === "systemd.restart")).toMatchObject({
      outcome: "succeeded",
    });
    expect(lab?.host.state().audit.rules.length).toBeGreaterThan(0);
  });

  it("RB-BACKUP-001-failure: a stale backup is run again", async () => {
    const { done } = await healsOnce(
      drift("RB-BACKUP-001-failure"),
      "backups",
      "RB-BACKUP-001-failure",
    );
    expect(done.map((s) => s.action)).toContain("backup.run");
    expect(lab?.host.state().backups[LAB_BACKUP_JOB]?.snapshots).toHaveLength(2);
  });

  it("RB-RESTORE-001-test: an overdue test restore runs", async () => {
    await healsOnce(drift("RB-RESTORE-001-test"), "backups", "RB-RESTORE-001-test");
    expect(lab?.host.state().backups[LAB_BACKUP_JOB]?.restore_tests.at(-1)).toMatchObject({
      result: "passed",
      files_checked: 50,
    });
  });

  it("RB-DISK-001-full: old generations and archived journals are removed until there is room", async () => {
    const { done } = await healsOnce(drift("RB-DISK-001-full"), "services", "RB-DISK-001-full");
    expect(done.map((s) => s.action)).toEqual([
      "check.finding_present",
      "nix.collect_garbage",
      "journald.vacuum",
      "check.finding_absent",
    ]);
  });

  it("RB-FIREWALL-001-drift: an opened port is closed by loading the baseline atomically", async () => {
    await healsOnce(drift("RB-FIREWALL-001-drift"), "firewall", "RB-FIREWALL-001-drift");
  });

  it("RB-LOGGING-001-journald: an over-budget journal is vacuumed and journald restarted", async () => {
    const { done } = await healsOnce(
      drift("RB-LOGGING-001-journald"),
      "logging",
      "RB-LOGGING-001-journald",
    );
    expect(done.map((s) => s.action)).toEqual([
      "journald.vacuum",
      "systemd.restart",
      "systemd.unit_active",
      "check.finding_absent",
    ]);
    expect(lab?.host.state().journald.disk_usage_bytes).toBeLessThanOrEqual(2 * GiB);
  });

  it("RB-PATCH-001-generation: a switched-away system returns to the expected generation", async () => {
    const { done } = await healsOnce(
      drift("RB-PATCH-001-generation"),
      "patching",
      "RB-PATCH-001-generation",
    );
    expect(done.map((s) => `${s.phase}:${s.action}`)).toEqual([
      "precondition:nixos.generation_available",
      "precondition:check.finding_absent",
      "step:nixos.switch_generation",
      "verify:check.finding_absent",
      "verify:check.finding_absent",
      "verify:systemd.unit_active",
      "verify:check.passes",
    ]);
  });

  it("RB-ENCRYPTION-001-luks: an unencrypted volume only raises a critical alert and an incident", async () => {
    lab = createHealingLab(drift("RB-ENCRYPTION-001-luks"));
    const events = await lab.cycle();
    expect(checkResult(events, "encryption")).toMatchObject({ status: "drift" });
    expect(attempts(events)).toEqual([
      expect.objectContaining({ runbook_id: "RB-ENCRYPTION-001-luks", outcome: "notified" }),
    ]);
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: "alert",
        code: "encryption_at_rest_drift",
        severity: "critical",
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "incident_opened", check_id: "encryption" }),
    );
    expect(lab.journal.outbox(10)).toHaveLength(1);
    // Nothing was changed: the volume is still closed.
    expect(lab.host.state().luks.cryptdata?.active).toBe(false);
    // The same drift next cycle is neither re-alerted nor re-reported.
    const next = await lab.cycle();
    expect(attempts(next)).toEqual([]);
    expect(lab.journal.outbox(10)).toHaveLength(1);
  });

  it("RB-CPU-001-high (L2/L3 only): no local rule; an incident, then a signed order heals", async () => {
    lab = createHealingLab(drift("RB-CPU-001-high"));
    const events = await lab.cycle();
    expect(attempts(events)).toEqual([
      expect.objectContaining({ outcome: "no_rule", check_id: "services" }),
    ]);
    const [incident] = lab.journal.outbox(10);
    expect(incident?.body).toMatchObject({
      check_id: "services",
      local_l1: {
        attempted: false,
        why_not: expect.stringMatching(/no L1 rule for cpu_load_high/),
      },
    });
    const run = await lab.order("RB-CPU-001-high", { unit: "chronyd.service" }, "L2");
    expect(run.outcome).toBe("succeeded");
    expect(steps(run.events).map((s) => `${s.phase}:${s.action}:${s.outcome}`)).toEqual([
      "precondition:check.finding_present:succeeded",
      "step:alert.raise:succeeded",
      "step:systemd.restart:succeeded",
      "verify:systemd.unit_active:succeeded",
    ]);
    expect(attempts(run.events)).toEqual([
      expect.objectContaining({ tier: "L2", outcome: "healed" }),
    ]);
  });

  it("RB-CERT-001-expiry: without an expiring certificate the order changes nothing", async () => {
    lab = createHealingLab(drift("RB-CERT-001-expiry"));
    const run = await lab.order("RB-CERT-001-expiry");
    expect(run.outcome).toBe("failed");
    expect(steps(run.events)).toEqual([
      expect.objectContaining({
        phase: "precondition",
        action: "check.finding_present",
        outcome: "failed",
      }),
    ]);
    expect(attempts(run.events)).toEqual([
      expect.objectContaining({ outcome: "precondition_failed" }),
    ]);
  });
});

describe("rollback", () => {
  it("a restart that does not stick fails verification: the rollback runs and the drift is escalated", async () => {
    lab = createHealingLab({
      mutate: (s) => {
        Object.assign(s.units["auditd.service"] as object, {
          active_state: "failed",
          sub_state: "failed",
        });
        s.healing.unstick = ["auditd.service"];
      },
    });
    const events = await lab.cycle();
    const done = steps(events);
    expect(done.map((s) => `${s.phase}:${s.action}:${s.outcome}`)).toEqual([
      "step:systemd.reset_failed:succeeded",
      "step:systemd.restart:succeeded",
      "verify:systemd.unit_active:failed",
      "rollback:alert.raise:succeeded",
    ]);
    expect(attempts(events)).toEqual([
      expect.objectContaining({ outcome: "reverted", attempt: 1 }),
    ]);
    expect(lab.journal.outbox(10)[0]?.body).toMatchObject({
      local_l1: { attempted: true, runbook_id: "RB-SERVICE-001-crash", outcome: "rolled_back" },
    });
  });

  it("a failed rebuild puts the previous generation back at once", async () => {
    lab = createHealingLab({
      mutate: (s) => {
        s.nixos.current = 2;
        s.healing.fail_once = ["switch-to-configuration"];
      },
    });
    const before = lab.host.state().nixos.generations.find((g) => g.number === 2)?.system;
    const events = await lab.cycle();
    const switchStep = steps(events).find((s) => s.action === "nixos.switch_generation");
    expect(switchStep).toMatchObject({ outcome: "failed" });
    expect(switchStep?.findings).toContainEqual(
      expect.objectContaining({ code: "rebuild_rolled_back" }),
    );
    const state = lab.host.state();
    const running = state.nixos.generations.find((g) => g.number === state.nixos.current)?.system;
    expect(running).toBe(before);
    expect(attempts(events)).toEqual([expect.objectContaining({ outcome: "reverted" })]);
    // The rollback alert was raised; nixos.rollback had nothing left to undo.
    expect(
      steps(events)
        .filter((s) => s.phase === "rollback")
        .map((s) => s.action),
    ).toEqual(["nixos.rollback", "alert.raise"]);
  });

  it("a switch that fails its health gate is rolled back to the generation that ran before", async () => {
    lab = createHealingLab({
      mutate: (s) => {
        s.nixos.current = 2;
        // sshd dies as the new generation starts: the health gate sees it.
        s.healing.unstick = [];
      },
    });
    // Make sshd fail right after the switch.
    const host = lab.host;
    const original = host.exec.bind(host);
    host.exec = async (request) => {
      const result = await original(request);
      if (
        request.argv[0].endsWith("switch-to-configuration") &&
        result.kind === "exited" &&
        result.code === 0
      ) {
        host.update((s) =>
          Object.assign(s.units["sshd.service"] as object, {
            active_state: "failed",
            sub_state: "failed",
          }),
        );
      }
      return result;
    };
    const twoBefore = lab.host.state().nixos.generations.find((g) => g.number === 2)?.system;
    const events = await lab.cycle();
    expect(steps(events).find((s) => s.action === "nixos.switch_generation")).toMatchObject({
      outcome: "succeeded",
    });
    expect(steps(events).find((s) => s.action === "nixos.rollback")).toMatchObject({
      outcome: "succeeded",
    });
    const state = lab.host.state();
    expect(state.nixos.generations.find((g) => g.number === state.nixos.current)?.system).toBe(
      twoBefore,
    );
    expect(attempts(events)).toEqual([expect.objectContaining({ outcome: "reverted" })]);
  });
});

describe("drift a runbook cannot cure", () => {
  it("an unset journal limit survives the vacuum: verification fails, the rollback alerts, an incident follows", async () => {
    lab = createHealingLab({ mutate: drifted({ kind: "journal_oversize" }) });
    const events = await lab.cycle();
    expect(attempts(events)).toEqual([
      expect.objectContaining({ runbook_id: "RB-LOGGING-001-journald", outcome: "reverted" }),
    ]);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "alert", code: "journald_unhealthy" }),
    );
    expect(lab.journal.outbox(10)[0]?.body).toMatchObject({
      check_id: "logging",
      local_l1: { attempted: true, outcome: "rolled_back" },
    });
  });
});

describe("maintenance window", () => {
  it("a disruptive runbook outside the window is deferred, then runs inside it", async () => {
    lab = createHealingLab({ ...drift("RB-PATCH-001-generation"), start: OUT_OF_WINDOW });
    const before = lab.host.state().nixos.current;
    const events = await lab.cycle();
    expect(attempts(events)).toEqual([
      expect.objectContaining({ runbook_id: "RB-PATCH-001-generation", outcome: "deferred" }),
    ]);
    expect(steps(events)).toEqual([]);
    expect(lab.host.state().nixos.current).toBe(before);
    // An order for it is deferred the same way.
    const run = await lab.order("RB-PATCH-001-generation");
    expect(run.outcome).toBe("deferred");
    // Sunday 03:00 New York.
    lab.clock.advance(new Date("2026-11-29T08:00:00Z").getTime() - lab.clock.now().getTime());
    const inside = await lab.cycle();
    // (Four days on, the backups are due as well; they heal in the same cycle.)
    expect(attempts(inside).filter((a) => a.runbook_id === "RB-PATCH-001-generation")).toEqual([
      expect.objectContaining({ outcome: "healed" }),
    ]);
  });
});
