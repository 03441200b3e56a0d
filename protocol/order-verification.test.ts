import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { randomNonce } from "./encoding.ts";
import { type OrderContext, verifyOrder, verifyPollResponse } from "./order-verification.ts";
import { MAX_ORDERS_PER_POLL, type Order, PollResponse } from "./schemas/orders.ts";
import { createSigner, type Signer, signDocument, verificationKey } from "./signed-document.ts";
import { forgeSigned } from "./testing/forge.ts";

const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
const impostor = createSigner(generateEd25519KeyPair().privateKey);
const NOW = new Date("2026-11-25T12:00:00Z");
const NONCE = randomNonce();

function context(overrides: Partial<OrderContext> = {}): OrderContext {
  return {
    key: verificationKey(controlPlane.publicKey),
    tenantId: "clinic-a",
    applianceId: "clinic-a-01",
    nonce: NONCE,
    lastOrderSeq: 4,
    seenOrderIds: new Set<string>(),
    runbooks: new Set(["RB-BACKUP-001-failure", "RB-SERVICE-001-crash"]),
    checkParams: (_id, params) =>
      typeof params.unit === "string" && !params.unit.endsWith(".service")
        ? "unit must name a .service"
        : null,
    now: NOW,
    ...overrides,
  };
}

function order(overrides: Partial<Omit<Order, "sig">> = {}, signer: Signer = controlPlane): Order {
  return forgeSigned<Order>(
    {
      v: 1,
      type: "order",
      order_id: randomUUID(),
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      seq: 5,
      nonce: NONCE,
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
      tier: "L1",
      issued_at: "2026-11-25T11:59:00Z",
      expires_at: "2026-11-25T13:00:00Z",
      ...overrides,
    },
    signer,
  );
}

function pollResponse(orders: Order[], overrides: Partial<Omit<PollResponse, "sig">> = {}) {
  return signDocument<PollResponse>(
    PollResponse,
    {
      v: 1,
      type: "poll_response",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      nonce: NONCE,
      order_seq: 4 + orders.length,
      orders,
      issued_at: "2026-11-25T12:00:00Z",
      ...overrides,
    },
    controlPlane,
  );
}

describe("verifyOrder", () => {
  it("accepts a valid order and returns the hash of its signed bytes", () => {
    const verdict = verifyOrder(order(), context());
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(verdict.orderHash).toMatch(/^[0-9a-f]{64}$/);
  });

  const seen = order({ order_id: "6f1c2d9e-0a4b-4c5d-8e7f-a1b2c3d4e5f6" });
  it.each([
    ["malformed", () => ({ ...order(), params: { "bad name": 1 } }), {}],
    [
      "malformed",
      () => order({ issued_at: "2026-11-25T12:00:00Z", expires_at: "2026-12-25T12:00:00Z" }),
      {},
    ],
    ["bad_signature", () => order({}, impostor), {}],
    ["bad_signature", () => ({ ...order(), runbook_id: "RB-BACKUP-001-failure" }), {}],
    ["wrong_audience", () => order({ appliance_id: "clinic-a-02" }), {}],
    ["wrong_audience", () => order({ tenant_id: "clinic-b" }), {}],
    ["stale_nonce", () => order({ nonce: randomNonce() }), {}],
    ["replayed", () => seen, { seenOrderIds: new Set([seen.order_id]) }],
    ["sequence_rollback", () => order({ seq: 4 }), {}],
    ["not_yet_valid", () => order({ issued_at: "2026-11-25T12:10:00Z" }), {}],
    [
      "expired",
      () => order({ issued_at: "2026-11-25T10:00:00Z", expires_at: "2026-11-25T12:00:00Z" }),
      {},
    ],
    ["unknown_runbook", () => order({ runbook_id: "RB-DISK-001-full" }), {}],
    ["invalid_params", () => order({ params: { unit: "sshd; rm -rf /" } }), {}],
  ] as const)("rejects %s", (reason, build, overrides) => {
    const verdict = verifyOrder(build(), context(overrides));
    expect(verdict).toMatchObject({ ok: false, reason });
  });

  it("tolerates a small clock difference but not a large one", () => {
    const early = order({ issued_at: "2026-11-25T12:01:30Z" });
    expect(verifyOrder(early, context()).ok).toBe(true);
    expect(verifyOrder(early, context({ clockSkewMs: 0 }))).toMatchObject({
      reason: "not_yet_valid",
    });
  });

  it("keeps the claimed order on a rejection, for the evidence record", () => {
    const claimed = order({ runbook_id: "RB-DISK-001-full" });
    const verdict = verifyOrder(claimed, context());
    expect(verdict).toMatchObject({ ok: false, claimed: { order_id: claimed.order_id } });
  });
});

describe("verifyPollResponse", () => {
  it("accepts a signed empty response that echoes the nonce and the sequence", () => {
    const verdict = verifyPollResponse(pollResponse([]), context());
    expect(verdict).toMatchObject({ ok: true, orders: [], lastOrderSeq: 4 });
  });

  it("verifies each order in turn and advances the sequence past rejected ones too", () => {
    const good = order({ seq: 5 });
    const unknown = order({ seq: 6, runbook_id: "RB-DISK-001-full" });
    const verdict = verifyPollResponse(pollResponse([good, unknown]), context());
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(verdict.orders.map((o) => (o.ok ? "ok" : o.reason))).toEqual(["ok", "unknown_runbook"]);
    expect(verdict.lastOrderSeq).toBe(6);
  });

  it("treats an id repeated inside one response as a replay", () => {
    const first = order({ seq: 5 });
    const again = order({ seq: 6, order_id: first.order_id });
    const verdict = verifyPollResponse(pollResponse([first, again]), context());
    expect(verdict.ok && verdict.orders.map((o) => (o.ok ? "ok" : o.reason))).toEqual([
      "ok",
      "replayed",
    ]);
  });

  it("accepts a full page and leaves the rest for the next poll", () => {
    const page = Array.from({ length: MAX_ORDERS_PER_POLL }, (_, i) => order({ seq: 5 + i }));
    const verdict = verifyPollResponse(pollResponse(page, { order_seq: 100 }), context());
    expect(verdict).toMatchObject({ ok: true, lastOrderSeq: 4 + MAX_ORDERS_PER_POLL });
  });

  it.each([
    ["malformed", () => ({ ...pollResponse([]), extra: true })],
    ["bad_signature", () => ({ ...pollResponse([]), order_seq: 5 })],
    ["wrong_audience", () => pollResponse([], { appliance_id: "clinic-a-02" })],
    ["stale_nonce", () => pollResponse([], { nonce: randomNonce() })],
    ["sequence_rollback", () => pollResponse([], { order_seq: 3 })],
    ["orders_withheld", () => pollResponse([], { order_seq: 5 })],
    ["orders_withheld", () => pollResponse([order({ seq: 6 })], { order_seq: 6 })],
    ["orders_withheld", () => pollResponse([order({ seq: 6 }), order({ seq: 5 })])],
  ] as const)("refuses the whole response: %s", (reason, build) => {
    expect(verifyPollResponse(build(), context())).toMatchObject({ ok: false, reason });
  });
});
