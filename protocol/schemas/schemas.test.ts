import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { randomNonce } from "../encoding.ts";
import { ProtocolError } from "../errors.ts";
import { parseMessage, tryParseMessage } from "../parse.ts";
import {
  EnrollmentRequest,
  EnrollmentResponse,
  EvidenceBundle,
  EvidenceEvent,
  EvidenceReceipt,
  EvidenceUpload,
  Incident,
  Order,
  OrderParams,
  OrderResult,
  PollRequest,
  PollResponse,
} from "./index.ts";

const sig = { alg: "Ed25519", key_id: "a".repeat(64), value: `${"A".repeat(86)}==` };
const pem = (label: string) => `-----BEGIN ${label}-----\nMIIB\n-----END ${label}-----\n`;
const order = {
  v: 1,
  type: "order",
  order_id: randomUUID(),
  tenant_id: "clinic-a",
  appliance_id: "clinic-a-01",
  seq: 1,
  nonce: randomNonce(),
  runbook_id: "RB-SERVICE-001-crash",
  params: { unit: "chronyd.service", max_restarts: 3, force: false },
  tier: "L2",
  issued_at: "2026-11-25T12:00:00Z",
  expires_at: "2026-11-25T13:00:00.000Z",
  sig,
};
const bundle = {
  v: 1,
  type: "evidence_bundle",
  tenant_id: "clinic-a",
  appliance_id: "clinic-a-01",
  seq: 1,
  prev_hash: "0".repeat(64),
  recorded_at: "2026-11-25T12:00:00Z",
  event: { kind: "alert", code: "disk_full", severity: "high", message: "/var at 97 %" },
  sig,
};

/** One valid example of every wire message, and for each a change its schema must refuse. */
const cases: [string, z.ZodType, Record<string, unknown>, Record<string, unknown>, RegExp][] = [
  [
    "enrollment request",
    EnrollmentRequest,
    {
      v: 2,
      type: "enrollment_request",
      mac_addresses: ["52:54:00:12:34:56"],
      hostname: "clinic-a-appliance",
      agent_version: "0.1.0",
      evidence_public_key: `${"B".repeat(42)}A=`,
      evidence_key_fingerprint: "b".repeat(64),
      tls_csr_pem: pem("CERTIFICATE REQUEST"),
      enrollment_token: "t".repeat(32),
      nonce: randomNonce(),
      requested_at: "2026-11-25T12:00:00Z",
      sig: { ...sig, key_id: "b".repeat(64) },
    },
    { mac_addresses: ["52-54-00-12-34-56"] },
    /mac_addresses\[0\]/,
  ],
  [
    "enrollment response (enrolled)",
    EnrollmentResponse,
    {
      v: 1,
      type: "enrollment_response",
      status: "enrolled",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      evidence_key_fingerprint: "b".repeat(64),
      client_certificate_pem: pem("CERTIFICATE"),
      ca_certificate_pem: pem("CERTIFICATE"),
      order_signing_public_key: `${"C".repeat(42)}E=`,
      settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 },
      sig,
    },
    { settings: { poll_interval_s: 1, poll_jitter: 0.1, evidence_batch_max: 200 } },
    /settings\.poll_interval_s/,
  ],
  [
    "enrollment response (pending)",
    EnrollmentResponse,
    {
      v: 1,
      type: "enrollment_response",
      status: "pending",
      evidence_key_fingerprint: "b".repeat(64),
      retry_after_s: 30,
      sig,
    },
    { status: "approved" },
    /status/,
  ],
  [
    "poll request",
    PollRequest,
    {
      v: 1,
      type: "poll_request",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      nonce: randomNonce(),
      last_order_seq: 0,
      evidence_head: { seq: 0, hash: "0".repeat(64) },
      agent_version: "0.1.0",
      sent_at: "2026-11-25T12:00:00Z",
    },
    { nonce: "short" },
    /nonce/,
  ],
  ["order", Order, order, { params: { unit: "x", "rm -rf": true } }, /params/],
  [
    "order with local-time timestamp",
    Order,
    order,
    { issued_at: "2026-11-25T12:00:00+01:00" },
    /issued_at/,
  ],
  [
    "order without a runbook pattern",
    Order,
    order,
    { runbook_id: "restart everything" },
    /runbook_id/,
  ],
  [
    "poll response",
    PollResponse,
    {
      v: 1,
      type: "poll_response",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      nonce: randomNonce(),
      order_seq: 1,
      orders: [order],
      issued_at: "2026-11-25T12:00:00Z",
      sig,
    },
    { sig: { ...sig, alg: "RS256" } },
    /sig\.alg/,
  ],
  [
    "order result",
    OrderResult,
    {
      v: 1,
      type: "order_result",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      order_id: randomUUID(),
      order_seq: 1,
      runbook_id: "RB-SERVICE-001-crash",
      outcome: "rejected",
      reason: "expired",
      evidence_seq: 12,
      finished_at: "2026-11-25T12:00:01Z",
    },
    { outcome: "exploded" },
    /outcome/,
  ],
  [
    "evidence bundle",
    EvidenceBundle,
    bundle,
    { event: { kind: "alert", message: "x" } },
    /event\.code/,
  ],
  [
    "evidence bundle without PHI-sized text",
    EvidenceBundle,
    bundle,
    { event: { ...bundle.event, message: "x".repeat(501) } },
    /event\.message/,
  ],
  [
    "evidence upload",
    EvidenceUpload,
    {
      v: 1,
      type: "evidence_upload",
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      bundles: [bundle],
    },
    { bundles: [] },
    /bundles/,
  ],
  [
    "evidence receipt",
    EvidenceReceipt,
    {
      v: 1,
      type: "evidence_receipt",
      receipt_id: randomUUID(),
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      first_seq: 1,
      last_seq: 20,
      last_hash: "c".repeat(64),
      received_at: "2026-11-25T12:00:02Z",
      sig,
    },
    { first_seq: 21 },
    /last_seq/,
  ],
  [
    "incident",
    Incident,
    {
      v: 1,
      type: "incident",
      incident_id: randomUUID(),
      tenant_id: "clinic-a",
      appliance_id: "clinic-a-01",
      check_id: "backups",
      severity: "high",
      detected_at: "2026-11-25T12:00:00Z",
      findings: [{ code: "backup_stale", subject: "restic-nightly", expected: 48, observed: 73 }],
      evidence: { seq: 12, hash: "d".repeat(64) },
      local_l1: { attempted: true, runbook_id: "RB-BACKUP-001-failure", outcome: "failed" },
    },
    { check_id: "Backups!" },
    /check_id/,
  ],
];

describe.each(cases)("%s", (_name, schema, valid, change, field) => {
  it("accepts the valid example", () => {
    expect(parseMessage(schema, valid, "message")).toEqual(valid);
  });

  it("refuses an unknown field (strict object)", () => {
    expect(() => parseMessage(schema, { ...valid, surprise: 1 }, "message")).toThrow(/surprise/);
  });

  it("refuses a bad value with an error that names the field", () => {
    const parse = () => parseMessage(schema, { ...valid, ...change }, "message");
    expect(parse).toThrow(ProtocolError);
    expect(parse).toThrow(field);
  });

  it("refuses another protocol version", () => {
    const v = (valid.v as number) + 1;
    expect(() => parseMessage(schema, { ...valid, v }, "message")).toThrow(/→ at v$/m);
  });
});

describe("enrollment request versions", () => {
  it("refuses the unsigned version 1 with a message that names the upgrade", () => {
    const [, , signed] = cases[0] as (typeof cases)[number];
    const { sig: _sig, nonce: _nonce, requested_at: _at, ...unsigned } = signed;
    const parse = () => parseMessage(EnrollmentRequest, { ...unsigned, v: 1 }, "message");
    expect(parse).toThrow(/version 1 \(unsigned\) is no longer accepted: update the agent/);
    expect(parse).toThrow(/→ at sig$/m);
  });
});

describe("order params", () => {
  it("refuses a parameter named __proto__ (zod would drop it silently)", () => {
    const params = JSON.parse('{"__proto__": 0, "unit": "chronyd.service"}');
    const result = OrderParams.safeParse(params);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain("__proto__");
    expect(OrderParams.parse({ unit: "chronyd.service" })).toEqual({ unit: "chronyd.service" });
  });
});

describe("an own __proto__ member at the parsing edge", () => {
  const bundle = JSON.parse(
    '{"kind":"check_result","check_id":"patching","status":"pass","severity":"low","findings":[],"duration_ms":1,"pre_state":{"__proto__":{"x":1},"unit":"a"}}',
  );
  it("is what zod alone drops silently (the stored bytes would differ from the checked value)", () => {
    const parsed = EvidenceEvent.safeParse(bundle);
    expect(parsed.success).toBe(true);
    expect(Object.hasOwn((parsed.data as { pre_state: object }).pre_state, "__proto__")).toBe(
      false,
    );
  });
  it("is refused by parseMessage and tryParseMessage, naming where", () => {
    expect(() => parseMessage(EvidenceEvent, bundle, "event")).toThrow(
      /__proto__[\s\S]*→ at \$\.pre_state\.__proto__/,
    );
    expect(tryParseMessage(EvidenceEvent, bundle)).toMatchObject({ ok: false });
  });
});
