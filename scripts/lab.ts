/**
 * The lab: the whole trust loop on one machine with no cloud account, labelled as a lab.
 *
 * What exists so far is the protocol layer, so the lab walks through it in memory: a lab
 * appliance records check results as a signed evidence chain, a lab control plane answers a
 * poll with a signed order, the appliance accepts it, refuses a forged and a replayed one
 * (each refusal is itself evidence), and an auditor verifies the chain and sees tampering.
 * Later work replaces these in-memory stand-ins with the real agent and control plane.
 */
import { randomUUID } from "node:crypto";
import {
  type ChainHead,
  createSigner,
  type EvidenceBundle,
  type EvidenceEvent,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  type Order,
  type OrderContext,
  type PollResponse,
  randomNonce,
  sealBundle,
  signDocument,
  verificationKey,
  verifyChain,
  verifyPollResponse,
} from "#protocol";

const TENANT = "lab-clinic";
const APPLIANCE = "lab-clinic-01";
const say = (line: string) => process.stdout.write(`[lab] ${line}\n`);

say("LAB MODE: simulated appliance and control plane on this machine; no real host is changed.");

const appliance = createSigner(generateEd25519KeyPair().privateKey);
const controlPlane = createSigner(generateEd25519KeyPair().privateKey);
say(
  `appliance evidence key ${appliance.keyId.slice(0, 16)}…  control-plane key ${controlPlane.keyId.slice(0, 16)}…`,
);

const journal: EvidenceBundle[] = [];
let head: ChainHead = GENESIS_HEAD;
function record(event: EvidenceEvent): void {
  const sealed = sealBundle(
    { tenant_id: TENANT, appliance_id: APPLIANCE, recorded_at: new Date().toISOString(), event },
    head,
    appliance,
  );
  journal.push(sealed.bundle);
  head = sealed.head;
}

record({ kind: "agent_lifecycle", event: "started", agent_version: "lab" });
record({
  kind: "check_result",
  check_id: "services",
  status: "drift",
  severity: "high",
  findings: [
    { code: "unit_inactive", subject: "chronyd.service", expected: "active", observed: "failed" },
  ],
  duration_ms: 3,
});
say("drift detected: chronyd.service is failed (simulated)");

// One poll: the appliance sends a fresh nonce; the control plane signs its whole answer.
const nonce = randomNonce();
const now = new Date();
const issue = (seq: number, signer = controlPlane, orderId: string = randomUUID()): Order =>
  signDocument<Order>(
    {
      v: 1,
      type: "order",
      order_id: orderId,
      tenant_id: TENANT,
      appliance_id: APPLIANCE,
      seq,
      nonce,
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
      tier: "L1",
      issued_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 15 * 60_000).toISOString(),
    },
    signer,
  );
const genuine = issue(1);
const forged = issue(2, createSigner(generateEd25519KeyPair().privateKey));
const replayed = issue(3, controlPlane, genuine.order_id);
const response = signDocument<PollResponse>(
  {
    v: 1,
    type: "poll_response",
    tenant_id: TENANT,
    appliance_id: APPLIANCE,
    nonce,
    order_seq: 3,
    orders: [genuine, forged, replayed],
    issued_at: now.toISOString(),
  },
  controlPlane,
);

const context: OrderContext = {
  key: verificationKey(controlPlane.publicKey),
  tenantId: TENANT,
  applianceId: APPLIANCE,
  nonce,
  lastOrderSeq: 0,
  seenOrderIds: new Set(),
  runbooks: new Set(["RB-SERVICE-001-crash"]),
  now,
};
const poll = verifyPollResponse(response, context);
if (!poll.ok) throw new Error(`lab poll response refused: ${poll.reason}`);
for (const verdict of poll.orders) {
  if (verdict.ok) {
    const { order } = verdict;
    say(`order ${order.seq} accepted: ${order.runbook_id} ${JSON.stringify(order.params)}`);
    record({
      kind: "order_accepted",
      order_id: order.order_id,
      order_seq: order.seq,
      runbook_id: order.runbook_id,
      tier: order.tier,
      order_hash: verdict.orderHash,
    });
    record({
      kind: "order_result",
      order_id: order.order_id,
      order_seq: order.seq,
      runbook_id: order.runbook_id,
      outcome: "succeeded",
      duration_ms: 12,
    });
  } else {
    say(`order ${verdict.claimed?.seq ?? "?"} refused: ${verdict.reason} (${verdict.detail})`);
    record({
      kind: "order_rejected",
      outcome: verdict.reason === "expired" ? "expired" : "rejected",
      reason: verdict.reason,
      detail: verdict.detail,
      ...(verdict.claimed && {
        order_id: verdict.claimed.order_id,
        order_seq: verdict.claimed.seq,
      }),
    });
  }
}
record({
  kind: "check_result",
  check_id: "services",
  status: "pass",
  severity: "high",
  findings: [],
  duration_ms: 2,
});
say("healed: services check passes again (simulated)");

// The auditor's view: verify the chain against the appliance key and the known head.
const audit = {
  key: verificationKey(appliance.publicKey),
  tenantId: TENANT,
  applianceId: APPLIANCE,
};
const verdict = verifyChain(journal, { ...audit, expectedHead: head });
say(
  `auditor: ${journal.length} bundles, chain ${verdict.ok ? "intact" : "BROKEN"}, head ${head.hash.slice(0, 16)}…`,
);
const tampered = journal.map((b) =>
  b.seq === 2 ? { ...b, recorded_at: "2026-01-01T00:00:00Z" } : b,
);
const caught = verifyChain(tampered, { ...audit, expectedHead: head });
say(
  `auditor: after rewriting bundle 2, ${caught.ok ? "NOT DETECTED" : `detected ${caught.break.reason} at seq ${caught.break.seq}`}`,
);
if (!verdict.ok || caught.ok) process.exitCode = 1;
