import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createSigner,
  type EvidenceBundle,
  generateEd25519KeyPair,
  PollResponse,
  privateKeyFromPem,
  randomNonce,
  signDocument,
} from "#protocol";
import { runAgent } from "./agent.ts";
import { openJournal } from "./journal.ts";
import type { RunbookAllowlist } from "./ports.ts";
import { type AgentWorld, createAgentWorld, TEST_RUNBOOKS } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

const allowlist: RunbookAllowlist = {
  has: (id) => TEST_RUNBOOKS.has(id),
  checkParams: (_id, params) =>
    typeof params.unit === "string" && /^[a-z0-9-]+\.service$/.test(params.unit)
      ? null
      : "unit must name a .service unit",
};

const eventsOf = (bundles: EvidenceBundle[]) => bundles.map((b) => b.event);
const hour = 3_600_000;

describe("orders", () => {
  it("executes only the valid order; every refusal is evidence and a report, never a run", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const forger = createSigner(generateEd25519KeyPair().privateKey);
    const firstId = randomUUID();
    const now = Date.now();
    const unit = { unit: "chronyd.service" };
    const cases: [string, Parameters<typeof cp.queueOrder>[0]][] = [
      ["accepted", { runbook_id: "RB-SERVICE-001-crash", params: unit, order_id: firstId }],
      ["bad_signature", { runbook_id: "RB-SERVICE-001-crash", params: unit, signer: forger }],
      [
        "bad_signature",
        {
          runbook_id: "RB-SERVICE-001-crash",
          params: unit,
          mutate: (o) => ({ ...o, params: { unit: "sshd.service" } }),
        },
      ],
      [
        "wrong_audience",
        { runbook_id: "RB-SERVICE-001-crash", params: unit, appliance_id: "clinic-b-01" },
      ],
      ["stale_nonce", { runbook_id: "RB-SERVICE-001-crash", params: unit, nonce: randomNonce() }],
      ["replayed", { runbook_id: "RB-SERVICE-001-crash", params: unit, order_id: firstId }],
      [
        "not_yet_valid",
        {
          runbook_id: "RB-SERVICE-001-crash",
          params: unit,
          issued_at: new Date(now + hour).toISOString(),
          expires_at: new Date(now + 2 * hour).toISOString(),
        },
      ],
      [
        "expired",
        {
          runbook_id: "RB-SERVICE-001-crash",
          params: unit,
          issued_at: new Date(now - 2 * hour).toISOString(),
          expires_at: new Date(now - hour).toISOString(),
        },
      ],
      ["unknown_runbook", { runbook_id: "RB-FIREWALL-009-open", params: {} }],
      ["invalid_params", { runbook_id: "RB-SERVICE-001-crash", params: { unit: "rm -rf /" } }],
    ];
    for (const [, template] of cases) cp.queueOrder(template);

    const status = await runAgent(
      world.deps({ allowlist, clock: { now: () => new Date(), sleep: async () => {} } }),
      new AbortController().signal,
    );

    // Only the first order ran.
    expect(world.executed.map((o) => o.seq)).toEqual([1]);
    expect(status.last_order_seq).toBe(cases.length);
    const events = eventsOf(cp.bundles);
    const decisions = events.filter(
      (e) => e.kind === "order_accepted" || e.kind === "order_rejected",
    );
    expect(decisions.map((e) => (e.kind === "order_rejected" ? e.reason : "accepted"))).toEqual(
      cases.map(([reason]) => reason),
    );
    for (const e of decisions) {
      if (e.kind !== "order_rejected") continue;
      expect(e.outcome).toBe(e.reason === "expired" ? "expired" : "rejected");
      expect(e.order_hash).toMatch(/^[0-9a-f]{64}$/);
    }
    // The accepted order's healing step and result are evidence too.
    expect(events.filter((e) => e.kind === "healing_step")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "order_result")).toEqual([
      expect.objectContaining({ order_seq: 1, outcome: "succeeded" }),
    ]);

    // Every order was reported, each pointing at the bundle that records it.
    const reports = [...cp.orderResults].sort((a, b) => a.order_seq - b.order_seq);
    expect(reports.map((r) => r.reason ?? r.outcome)).toEqual(
      cases.map(([reason]) => (reason === "accepted" ? "succeeded" : reason)),
    );
    for (const report of reports) {
      const bundle = cp.bundles[report.evidence_seq - 1];
      expect(bundle?.event).toMatchObject({ order_seq: report.order_seq });
      if (report.reason === "expired") expect(report.outcome).toBe("expired");
    }
  });

  it("refuses an order whose id came in an earlier poll, also after a restart", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const id = randomUUID();
    const unit = { unit: "chronyd.service" };
    cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: unit, order_id: id });
    await runAgent(world.deps(), new AbortController().signal);
    expect(world.executed.map((o) => o.order_id)).toEqual([id]);
    // The next poll, from a restarted agent, carries the same id again (new seq, new nonce,
    // validly signed): only the journal's record of seen ids can tell it is a replay.
    cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: unit, order_id: id });
    await runAgent(world.deps(), new AbortController().signal);
    expect(world.executed.map((o) => o.order_id)).toEqual([id]);
    expect(cp.orderResults.map((r) => [r.order_seq, r.reason ?? r.outcome])).toEqual([
      [1, "succeeded"],
      [2, "replayed"],
    ]);
  });

  const resign = (world: AgentWorld, response: PollResponse, change: Partial<PollResponse>) => {
    const { sig: _sig, ...unsigned } = { ...response, ...change };
    return signDocument<PollResponse>(PollResponse, unsigned, world.cpSigner);
  };
  const forger = createSigner(generateEd25519KeyPair().privateKey);

  it.each<[string, (w: AgentWorld, r: PollResponse) => unknown]>([
    ["malformed", (_w, r) => ({ ...r, orders: "all of them" })],
    [
      "bad_signature",
      (_w, r) => {
        const { sig: _sig, ...unsigned } = r;
        return signDocument<PollResponse>(PollResponse, unsigned, forger);
      },
    ],
    ["wrong_audience", (w, r) => resign(w, r, { appliance_id: "clinic-b-01" })],
    ["stale_nonce", (w, r) => resign(w, r, { nonce: randomNonce() })],
    ["sequence_rollback", (w, r) => resign(w, r, { order_seq: 0, orders: [] })],
    ["orders_withheld", (w, r) => resign(w, r, { order_seq: r.order_seq + 1 })],
  ])(
    "refuses a poll response as a whole (%s): an alert, nothing executed",
    async (reason, tamper) => {
      world = await createAgentWorld();
      const { cp } = world;
      cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: { unit: "chronyd.service" } });
      cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: { unit: "chronyd.service" } });
      // The first poll delivers order 1 honestly, and so does the poll that confirms it just
      // before it runs; the next cycle's is tampered with.
      cp.pollHook = (response) => {
        if (cp.polls.length <= 2) {
          const { sig: _sig, ...unsigned } = {
            ...response,
            order_seq: 1,
            orders: response.orders.filter((o) => o.seq === 1),
          };
          return signDocument<PollResponse>(PollResponse, unsigned, world.cpSigner);
        }
        return tamper(world, response);
      };
      const status = await runAgent(world.deps({ maxCycles: 2 }), new AbortController().signal);
      expect(world.executed.map((o) => o.seq)).toEqual([1]);
      expect(status.last_order_seq).toBe(1);
      const alerts = eventsOf(cp.bundles).filter((e) => e.kind === "alert");
      expect(alerts).toEqual([
        expect.objectContaining({ code: `poll_${reason}`, severity: "high" }),
      ]);
      expect(cp.orderResults.map((r) => r.order_seq)).toEqual([1]);
    },
  );
});

describe("an order that does not finish", () => {
  it("is cut off at the shutdown bound, reported failed on the next start, never run again", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    await runAgent(world.deps(), new AbortController().signal);
    cp.queueOrder({ runbook_id: "RB-SERVICE-001-crash", params: { unit: "chronyd.service" } });
    // SIGTERM arrives while the runbook runs, and the runbook never returns.
    let stop = new AbortController();
    const dies = world.deps({
      executor: {
        execute: () => {
          stop.abort();
          return new Promise(() => {});
        },
      },
      config: { ...world.config, shutdown_timeout_s: 1 },
    });
    await runAgent(dies, stop.signal);
    // Cut off by the shutdown bound; the report waits in the outbox for the next contact.
    expect(cp.orderResults).toEqual([]);

    stop = new AbortController();
    const status = await runAgent(world.deps(), stop.signal);
    expect(world.executed).toEqual([]);
    expect(status.last_order_seq).toBe(1);
    expect(cp.orderResults).toEqual([expect.objectContaining({ order_seq: 1, outcome: "failed" })]);
    const results = cp.bundles.filter((b) => b.event.kind === "order_result");
    expect(results).toHaveLength(1);
  });

  it("orders accepted but not started when the agent died are reported failed, never run (kill -9)", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    await runAgent(world.deps(), new AbortController().signal);
    // What a kill -9 leaves behind when one poll accepted three orders and the first was
    // running: all three accepted (their sequence numbers consumed), the first in flight.
    const journal = openJournal(
      join(world.config.state_dir, "journal.sqlite"),
      { tenantId: cp.tenantId, applianceId: cp.applianceId },
      createSigner(privateKeyFromPem(readFileSync(world.config.evidence_key_path, "utf8"))),
    );
    const refs = [1, 2, 3].map((seq) => ({
      id: randomUUID(),
      seq,
      runbook: "RB-SERVICE-001-crash",
    }));
    journal.setState("accepted_orders", JSON.stringify(refs));
    journal.setState("in_flight_order", JSON.stringify(refs[0]));
    journal.close();

    await runAgent(world.deps(), new AbortController().signal);
    expect(world.executed).toEqual([]);
    expect(cp.orderResults.map((r) => [r.order_seq, r.outcome, r.detail])).toEqual([
      [1, "failed", expect.stringMatching(/interrupted/)],
      [2, "failed", expect.stringMatching(/before the order ran/)],
      [3, "failed", expect.stringMatching(/before the order ran/)],
    ]);
    // Reported once: a further restart reports nothing again.
    await runAgent(world.deps(), new AbortController().signal);
    expect(cp.orderResults).toHaveLength(3);
  });

  it("is reported failed on the next start when the agent died while it ran (kill -9)", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    await runAgent(world.deps(), new AbortController().signal);
    // What a kill -9 during execution leaves behind: the order accepted, its id in flight.
    const signer = createSigner(
      privateKeyFromPem(readFileSync(world.config.evidence_key_path, "utf8")),
    );
    const journal = openJournal(
      join(world.config.state_dir, "journal.sqlite"),
      { tenantId: cp.tenantId, applianceId: cp.applianceId },
      signer,
    );
    const orderId = randomUUID();
    journal.setState(
      "in_flight_order",
      JSON.stringify({ id: orderId, seq: 1, runbook: "RB-SERVICE-001-crash" }),
    );
    journal.close();

    await runAgent(world.deps(), new AbortController().signal);
    expect(world.executed).toEqual([]);
    expect(cp.orderResults).toEqual([
      expect.objectContaining({
        order_id: orderId,
        outcome: "failed",
        detail: expect.stringMatching(/interrupted/),
      }),
    ]);
    expect(cp.bundles.filter((b) => b.event.kind === "order_result")).toEqual([
      expect.objectContaining({
        event: expect.objectContaining({ order_id: orderId, outcome: "failed" }),
      }),
    ]);
  });
});
