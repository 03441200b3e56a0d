import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type EvidenceBundle, PollResponse, signDocument } from "#protocol";
import { runAgent } from "./agent.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

const eventsOf = (bundles: EvidenceBundle[]) => bundles.map((b) => b.event);
const unit = { unit: "chronyd.service" };

/** Re-signs the test control plane's response with `change` (what a real one would send). */
const resign = (w: AgentWorld, response: PollResponse, change: Partial<PollResponse>) => {
  const { sig: _sig, ...unsigned } = { ...response, ...change };
  return signDocument<PollResponse>(PollResponse, unsigned, w.cpSigner);
};

describe("the control plane's suspension and withdrawn orders, as stated in the signed poll", () => {
  it("never runs an order the poll names withdrawn: evidence order_withdrawn and a report", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const withdrawnId = randomUUID();
    cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: unit, order_id: withdrawnId });
    cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: unit });
    const at = new Date().toISOString();
    cp.pollHook = (response) =>
      resign(world, response, {
        withdrawn_orders: [
          { order_id: withdrawnId, seq: 1, reason: "kill_switch", withdrawn_at: at },
        ],
      });
    const status = await runAgent(world.deps(), new AbortController().signal);

    // Only order 2 ran; order 1 consumed its number and is withdrawn on the record.
    expect(world.executed.map((o) => o.seq)).toEqual([2]);
    expect(status.last_order_seq).toBe(2);
    const events = eventsOf(cp.bundles);
    expect(events.filter((e) => e.kind === "order_accepted").map((e) => e.order_seq)).toEqual([2]);
    expect(events.filter((e) => e.kind === "order_withdrawn")).toEqual([
      {
        kind: "order_withdrawn",
        order_id: withdrawnId,
        order_seq: 1,
        runbook_id: "RB-SERVICE-001-crash",
        reason: "kill_switch",
        withdrawn_at: at,
      },
    ]);
    const report = cp.orderResults.find((r) => r.order_id === withdrawnId);
    expect(report).toMatchObject({ outcome: "withdrawn", order_seq: 1 });
    expect(cp.bundles[(report?.evidence_seq ?? 0) - 1]?.event.kind).toBe("order_withdrawn");
  });

  it("does not start an automatic order the kill switch withdrew after its delivery: it polls once more first", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const automatic = randomUUID();
    cp.queueOrder({
      runbook_id: "RB-SERVICE-001-crash",
      params: unit,
      order_id: automatic,
      tier: "L2",
    });
    const at = new Date().toISOString();
    // The order is delivered; the switch is engaged while the agent runs its checks, so every
    // later response says so.
    cp.pollHook = (response) =>
      cp.polls.length === 1
        ? response
        : resign(world, response, {
            suspended: { reasons: ["kill_switch"], detail: "drill" },
            withdrawn_orders: [
              { order_id: automatic, seq: 1, reason: "kill_switch", withdrawn_at: at },
            ],
          });
    await runAgent(world.deps(), new AbortController().signal);

    expect(world.executed).toEqual([]);
    expect(cp.polls).toHaveLength(2);
    const events = eventsOf(cp.bundles);
    expect(events.filter((e) => e.kind === "order_accepted").map((e) => e.order_id)).toEqual([
      automatic,
    ]);
    expect(events.filter((e) => e.kind === "order_withdrawn").map((e) => e.order_id)).toEqual([
      automatic,
    ]);
    expect(events.some((e) => e.kind === "order_result")).toBe(false);
    expect(cp.orderResults.map((r) => [r.order_id, r.outcome])).toEqual([[automatic, "withdrawn"]]);
  });

  it("records the suspension once per change, keeps it across a restart, and records the lift", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const suspended = { reasons: ["kill_switch" as const, "audit_only" as const], detail: "" };
    cp.pollHook = (response) => resign(world, response, { suspended });
    await runAgent(world.deps({ maxCycles: 3 }), new AbortController().signal);
    await runAgent(world.deps({ maxCycles: 2 }), new AbortController().signal);
    const changes = () => eventsOf(cp.bundles).filter((e) => e.kind === "healing_suspension");
    expect(changes()).toEqual([{ kind: "healing_suspension", event: "suspended", ...suspended }]);

    // A response without the field (also what an older control plane sends) lifts it.
    cp.pollHook = null;
    await runAgent(world.deps({ maxCycles: 2 }), new AbortController().signal);
    expect(changes().map((e) => e.event)).toEqual(["suspended", "lifted"]);
  });

  it("refuses a response whose suspension was stripped or added after signing", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    cp.pollHook = (response) => ({
      ...resign(world, response, {
        suspended: { reasons: ["kill_switch"], detail: "stop" },
      }),
      suspended: undefined,
    });
    await runAgent(world.deps(), new AbortController().signal);
    expect(eventsOf(cp.bundles).filter((e) => e.kind === "alert")).toEqual([
      expect.objectContaining({ code: "poll_bad_signature" }),
    ]);
    expect(eventsOf(cp.bundles).some((e) => e.kind === "healing_suspension")).toBe(false);
  });
});
