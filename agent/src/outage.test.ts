import { afterEach, describe, expect, it } from "vitest";
import {
  createSigner,
  EvidenceReceipt,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  publicKeyFromBase64,
  signDocument,
  verificationKey,
  verifyChain,
} from "#protocol";
import { runAgent } from "./agent.ts";
import { memoryLogger } from "./log.ts";
import { acceleratedClock } from "./ports.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());
const settings = { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 };
const run = () => new AbortController().signal;

describe("offline queue and push", () => {
  it("survives a 24-hour outage with restarts, then flushes everything in order with receipts", async () => {
    world = await createAgentWorld({ settings });
    const { cp } = world;
    const start = new Date("2026-11-25T00:00:00Z");
    const clock = acceleratedClock(start);
    const deps = (maxCycles: number) => world.deps({ clock, maxCycles, random: Math.random });

    const online = await runAgent(deps(3), run());
    expect(online.backlog).toBe(1); // only the stopping bundle
    const before = cp.bundles.length;

    // 24 hours down: 1,440 cycles of 60 s ± 10 %, with a restart every 360 cycles.
    cp.available = false;
    let status = online;
    for (let part = 0; part < 4; part++) status = await runAgent(deps(360), run());
    expect(status.cycles).toBe(360);
    expect(clock.now().getTime() - start.getTime()).toBeGreaterThan(23 * 3_600_000);
    expect(cp.bundles.length).toBe(before);
    expect(status.backlog).toBeGreaterThanOrEqual(1_440);
    // Contact was retried with backoff, not every cycle.
    expect(status.contact_failures).toBeGreaterThan(0);
    const outageHead = status.evidence_head_seq;

    // Back online: within a few cycles (the backoff is capped at 15 min) everything goes.
    cp.available = true;
    status = await runAgent(deps(20), run());
    expect(status.contact_failures).toBe(0);
    expect(status.backlog).toBe(1);
    expect(cp.bundles.length).toBeGreaterThan(outageHead);
    const key = verificationKey(publicKeyFromBase64(cp.enrollments[0]?.evidence_public_key ?? ""));
    const verdict = verifyChain(cp.bundles, {
      key,
      tenantId: cp.tenantId,
      applianceId: cp.applianceId,
      from: GENESIS_HEAD,
    });
    expect(verdict.ok).toBe(true);
    const checks = cp.bundles.filter((b) => b.event.kind === "check_result");
    expect(checks.length).toBeGreaterThanOrEqual(1_440 + 3);
    // Receipts are contiguous and each batch stayed within the signed batch size.
    let next = 1;
    for (const receipt of cp.receipts) {
      expect(receipt.first_seq).toBe(next);
      expect(receipt.last_seq - receipt.first_seq + 1).toBeLessThanOrEqual(200);
      next = receipt.last_seq + 1;
    }
    expect(next).toBe(cp.bundles.length + 1);

    // A control plane restored from an older backup asks for a resend (409 evidence_gap).
    cp.truncateTo(cp.bundles.length - 50);
    status = await runAgent(deps(1), run());
    expect(status.backlog).toBe(1);
    expect(cp.bundles.length).toBe(status.evidence_head_seq - 1);
    expect(
      verifyChain(cp.bundles, { key, tenantId: cp.tenantId, applianceId: cp.applianceId }).ok,
    ).toBe(true);
  }, 180_000);

  it("keeps bundles queued when a receipt is not from the pinned key or does not cover them", async () => {
    world = await createAgentWorld();
    const { cp } = world;
    const forger = createSigner(generateEd25519KeyPair().privateKey);
    const log = memoryLogger();
    cp.receiptHook = (receipt) => {
      const { sig: _sig, ...unsigned } = receipt;
      return signDocument<EvidenceReceipt>(EvidenceReceipt, unsigned, forger);
    };
    let status = await runAgent(world.deps({ log }), run());
    expect(status.receipted_seq).toBe(0);
    expect(status.last_error).toMatch(/not signed by the pinned key/);

    cp.receiptHook = (receipt) => {
      const { sig: _sig, ...unsigned } = receipt;
      return signDocument<EvidenceReceipt>(
        EvidenceReceipt,
        { ...unsigned, last_hash: "f".repeat(64) },
        world.cpSigner,
      );
    };
    status = await runAgent(world.deps({ log }), run());
    expect(status.receipted_seq).toBe(0);
    expect(status.last_error).toMatch(/receipt hash differs/);

    cp.receiptHook = null;
    status = await runAgent(world.deps({ log }), run());
    expect(status.receipted_seq).toBe(status.evidence_head_seq - 1);
  });
});
