import { afterEach, describe, expect, it } from "vitest";
import { crashed } from "../testing/healing-drift.ts";
import {
  attempts,
  checkResult,
  createHealingLab,
  type HealingLab,
  steps,
} from "../testing/healing-lab.ts";
import { PAUSE_HEALING, RESUME_HEALING } from "./kill-switch.ts";

/**
 * The healer's policy on the lab appliance, with the real checks and journal: cooldown, maximum
 * attempts and backoff (persisted across a restart), audit-only per site and per check, and the
 * kill switch delivered as an order.
 */
let lab: HealingLab | undefined;
afterEach(() => {
  lab?.close();
  lab = undefined;
});
const MIN = 60_000;

const crash = crashed;

describe("cooldown, max attempts and backoff", () => {
  it("a unit that keeps crashing is healed at growing intervals, then escalated; a restart changes nothing", async () => {
    lab = createHealingLab({ mutate: crash("chronyd.service") });
    const outcomes: string[] = [];
    const tick = async (minutes: number) => {
      lab?.clock.advance(minutes * MIN);
      const events = await (lab as HealingLab).cycle();
      for (const a of attempts(events))
        outcomes.push(`${a.outcome}${a.attempt ? `#${a.attempt}` : ""}`);
      // It crashes again after every heal.
      lab?.host.update(crash("chronyd.service"));
    };
    await tick(0); // healed #1
    await tick(5); // cooldown (15 min)
    await tick(11); // 16 min after: healed #2
    await tick(20); // cooldown (30 min after #2)
    lab.restart(); // the count survives a restart
    await tick(11); // 31 min after #2: healed #3
    await tick(120); // max_attempts 3: exhausted, escalated
    await tick(5); // the incident is open: nothing new
    expect(outcomes).toEqual([
      "healed#1",
      "cooldown#1",
      "healed#2",
      "cooldown#2",
      "healed#3",
      "exhausted#3",
    ]);
    const incidents = lab.journal.outbox(10).map((i) => i.body);
    expect(incidents).toEqual([
      expect.objectContaining({
        check_id: "services",
        local_l1: { attempted: true, runbook_id: "RB-SERVICE-001-crash", outcome: "failed" },
      }),
    ]);
  });
});

describe("audit-only", () => {
  it("audit mode records the drift and an incident and never acts", async () => {
    lab = createHealingLab({ healing: { mode: "audit" }, mutate: crash("chronyd.service") });
    const events = await lab.cycle();
    expect(attempts(events)).toEqual([
      expect.objectContaining({
        outcome: "audit_only",
        detail: expect.stringMatching(/local config/),
      }),
    ]);
    expect(steps(events)).toEqual([]);
    expect(lab.host.state().units["chronyd.service"]?.active_state).toBe("failed");
    expect(lab.journal.outbox(10)[0]?.body).toMatchObject({
      local_l1: { attempted: false, why_not: expect.stringMatching(/audit-only/) },
    });
    // Orders are held to the same policy.
    const run = await lab.order("RB-SERVICE-001-crash", { unit: "chronyd.service" });
    expect(run.outcome).toBe("failed");
    expect(steps(run.events)).toEqual([]);
  });

  it("the site's setting from enrollment makes the appliance audit-only whatever its config says", async () => {
    lab = createHealingLab({
      site: { mode: "audit", audit_only_checks: [] },
      mutate: crash("chronyd.service"),
    });
    const events = await lab.cycle();
    expect(attempts(events)).toEqual([
      expect.objectContaining({
        outcome: "audit_only",
        detail: expect.stringMatching(/site setting/),
      }),
    ]);
    expect(lab.host.state().units["chronyd.service"]?.active_state).toBe("failed");
  });

  it("an audit-only check is left alone while other checks still heal", async () => {
    lab = createHealingLab({
      healing: { audit_only_checks: ["services"] },
      mutate: (s) => {
        crash("chronyd.service")(s);
        s.journald.disk_usage_bytes = 5 * 1024 ** 3;
      },
    });
    const events = await lab.cycle();
    expect(
      attempts(events)
        .map((a) => `${a.check_id}:${a.outcome}`)
        .sort(),
    ).toEqual(["logging:healed", "services:audit_only"]);
    expect(lab.host.state().units["chronyd.service"]?.active_state).toBe("failed");
  });
});

describe("the kill switch", () => {
  it("a signed pause order stops all healing (L1 and orders) across a restart; resume brings it back", async () => {
    lab = createHealingLab({ mutate: crash("chronyd.service") });
    const paused = await lab.order(PAUSE_HEALING);
    expect(paused.outcome).toBe("succeeded");
    expect(paused.events).toEqual([
      expect.objectContaining({ kind: "healing_control", event: "paused" }),
    ]);
    lab.restart();
    const events = await lab.cycle();
    expect(checkResult(events, "services")).toMatchObject({ status: "drift" });
    expect(attempts(events)).toEqual([expect.objectContaining({ outcome: "paused" })]);
    expect(steps(events)).toEqual([]);
    expect(lab.host.state().units["chronyd.service"]?.active_state).toBe("failed");
    const order = await lab.order("RB-SERVICE-001-crash", { unit: "chronyd.service" });
    expect(order).toMatchObject({ outcome: "failed", detail: expect.stringMatching(/paused/) });
    // Only a person may pull it: an L2 resume is refused and healing stays paused.
    expect((await lab.order(RESUME_HEALING, {}, "L2")).outcome).toBe("failed");
    // The paused drift was reported once; after the resume it heals without being re-reported.
    const during = await lab.cycle();
    expect(attempts(during)).toEqual([expect.objectContaining({ outcome: "paused" })]);
    expect(lab.journal.outbox(10)).toHaveLength(1);
    expect((await lab.order(RESUME_HEALING)).outcome).toBe("succeeded");
    const after = await lab.cycle();
    expect(attempts(after)).toEqual([expect.objectContaining({ outcome: "healed" })]);
    expect(lab.journal.outbox(10)).toHaveLength(1);
    expect(lab.host.state().units["chronyd.service"]?.active_state).toBe("active");
  });
});

describe("an interrupted L1 run", () => {
  it("is recorded as failed on the next start, and the next round decides again", async () => {
    lab = createHealingLab({ mutate: crash("chronyd.service") });
    // The agent dies inside the runbook: the restart never answers, then the process is gone.
    const host = lab.host;
    const exec = host.exec.bind(host);
    host.exec = (request) =>
      request.argv[1] === "restart" ? new Promise(() => {}) : exec(request);
    void lab.cycle();
    await new Promise((r) => setTimeout(r, 200));
    host.exec = exec;
    lab.restart();
    const recorded = lab.events().filter((e) => e.kind === "healing_attempt");
    expect(recorded.at(-1)).toMatchObject({
      runbook_id: "RB-SERVICE-001-crash",
      outcome: "failed",
      attempt: 1,
      detail: expect.stringMatching(/interrupted/),
    });
    // The attempt counted: the next try waits for the cooldown, then heals.
    expect(attempts(await lab.cycle())).toEqual([expect.objectContaining({ outcome: "cooldown" })]);
    lab.clock.advance(15 * MIN);
    expect(attempts(await lab.cycle())).toEqual([
      expect.objectContaining({ outcome: "healed", attempt: 2 }),
    ]);
  });
});
