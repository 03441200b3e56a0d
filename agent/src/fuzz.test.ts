import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createSigner,
  generateEd25519KeyPair,
  Order,
  type OrderContext,
  PollResponse,
  publicKeyOf,
  publicKeyToBase64,
  randomNonce,
  signDocument,
  signingBytes,
  toBase64,
  verificationKey,
  verifyOrder,
  verifyPollResponse,
} from "#protocol";
import { parseConfig } from "./config.ts";
import { AgentError } from "./errors.ts";

/**
 * Hostile input to the agent's order and config parsing (fast-check). An order or poll response
 * is the one thing an attacker on the network (or a compromised control plane) can hand the
 * appliance: whatever it is, verification answers with a verdict and never throws; a signed
 * document with any one field changed is never accepted. A config file is operator input:
 * anything is either a valid config or an invalid_config error naming the field.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const key = generateEd25519KeyPair();
const signer = createSigner(key.privateKey);
const tenantId = "clinic-z";
const applianceId = "clinic-z-01";
const nonce = randomNonce();
const now = new Date();

const context = (): OrderContext => ({
  key: verificationKey(publicKeyOf(key.privateKey)),
  tenantId,
  applianceId,
  nonce,
  lastOrderSeq: 0,
  seenOrderIds: new Set<string>(),
  runbooks: new Set(["RB-SERVICE-001-crash"]),
  checkParams: (_id, params) =>
    typeof params.unit === "string" && /^[a-z0-9-]+\.service$/.test(params.unit)
      ? null
      : "unit must name a .service unit",
  now,
});

function signedOrder(seq = 1): Order {
  return signDocument<Order>(
    Order,
    {
      v: 1,
      type: "order",
      order_id: randomUUID(),
      tenant_id: tenantId,
      appliance_id: applianceId,
      seq,
      nonce,
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
      tier: "L3",
      issued_at: new Date(now.getTime() - 60_000).toISOString(),
      expires_at: new Date(now.getTime() + 600_000).toISOString(),
    },
    signer,
  );
}

function signedPoll(): PollResponse {
  return signDocument<PollResponse>(
    PollResponse,
    {
      v: 1,
      type: "poll_response",
      tenant_id: tenantId,
      appliance_id: applianceId,
      nonce,
      order_seq: 1,
      orders: [signedOrder(1)],
      issued_at: now.toISOString(),
    },
    signer,
  );
}

/** Any one field replaced by any JSON value other than its own. */
const mutation = (doc: Record<string, unknown>) =>
  fc
    .tuple(fc.constantFrom(...Object.keys(doc).filter((k) => k !== "sig")), fc.jsonValue())
    .filter(([field, value]) => JSON.stringify(value) !== JSON.stringify(doc[field]));

describe("hostile orders and poll responses", () => {
  it("the honest documents are accepted (so the properties below can fail)", () => {
    expect(verifyOrder(signedOrder(), context()).ok).toBe(true);
    expect(verifyPollResponse(signedPoll(), context()).ok).toBe(true);
  });

  it("never throws on arbitrary input and never accepts it", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        expect(verifyOrder(value, context()).ok).toBe(false);
        expect(verifyPollResponse(value, context()).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("never accepts a signed order or poll response with one field changed", () => {
    const order = signedOrder();
    const poll = signedPoll();
    fc.assert(
      fc.property(mutation(order), ([field, value]) => {
        const verdict = verifyOrder({ ...order, [field]: value }, context());
        expect(verdict.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(mutation(poll), ([field, value]) => {
        expect(verifyPollResponse({ ...poll, [field]: value }, context()).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses as bad_signature a change that is otherwise valid (only the signature can catch it)", () => {
    const order = signedOrder();
    const poll = signedPoll();
    const unit = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}\.service$/);
    const shift = fc.integer({ min: 1, max: 50_000 });
    fc.assert(
      fc.property(unit, shift, (name, ms) => {
        fc.pre(name !== "chronyd.service");
        const changed = { ...order, params: { unit: name } };
        expect(verifyOrder(changed, context())).toMatchObject({
          ok: false,
          reason: "bad_signature",
        });
        const issued = new Date(Date.parse(order.issued_at) - ms).toISOString();
        expect(verifyOrder({ ...order, issued_at: issued }, context())).toMatchObject({
          ok: false,
          reason: "bad_signature",
        });
        const polled = { ...poll, issued_at: new Date(now.getTime() - ms).toISOString() };
        expect(verifyPollResponse(polled, context())).toMatchObject({
          ok: false,
          reason: "bad_signature",
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("judges an honestly signed order with hostile params by the runbook's schema", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.integer())),
        (params) => {
          // Signed by the real key without the schema check signDocument makes: the agent's own
          // check is under test.
          const unsigned = { ...stripSig(signedOrder()), params };
          if (Object.hasOwn(params, "__proto__")) {
            // Canonical JSON refuses an own __proto__ member: no such order can be signed.
            expect(() => signingBytes(unsigned)).toThrow(/__proto__/);
            return;
          }
          const value = toBase64(signer.sign(signingBytes(unsigned)));
          const order = {
            ...unsigned,
            sig: { alg: "Ed25519" as const, key_id: signer.keyId, value },
          };
          const verdict = verifyOrder(order, context());
          const valid =
            typeof params.unit === "string" && /^[a-z0-9-]+\.service$/.test(params.unit);
          if (verdict.ok) expect(valid).toBe(true);
          else expect(["malformed", "invalid_params"]).toContain(verdict.reason);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("hostile agent config", () => {
  const valid = {
    control_plane_url: "https://cp.example.test",
    order_signing_public_key: publicKeyToBase64(publicKeyOf(key.privateKey)),
    ca_bundle_path: "/etc/compliance-agent/ca.pem",
    state_dir: "/var/lib/compliance-agent",
    evidence_key_path: "/var/lib/compliance-agent/evidence-key.pem",
    tls_key_path: "/var/lib/compliance-agent/tls-key.pem",
    enrollment_token_path: "/run/credentials/enrollment-token",
  };

  it("answers any input with a config or an invalid_config error, never anything else", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        try {
          parseConfig(value);
        } catch (error) {
          expect(error).toBeInstanceOf(AgentError);
          expect((error as AgentError).code).toBe("invalid_config");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("names the field that a hostile value broke", () => {
    const base = parseConfig(valid);
    expect(base.state_dir).toBe(valid.state_dir);
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(valid)),
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string())),
        (field, value) => {
          expect(() => parseConfig({ ...valid, [field]: value })).toThrow(
            new RegExp(`^\\s*${field}: `, "m"),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

function stripSig<T extends { sig: unknown }>(doc: T): Omit<T, "sig"> {
  const { sig: _sig, ...rest } = doc;
  return rest;
}
