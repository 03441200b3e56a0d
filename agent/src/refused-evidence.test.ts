import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChainHead,
  createSigner,
  privateKeyFromPem,
  sha256Hex,
  signingBytes,
  toBase64,
  verificationKey,
  verifyChain,
} from "#protocol";
import { runAgent } from "./agent.ts";
import { REFUSED_ALERT } from "./journal.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld | undefined;
afterEach(async () => world?.cleanup());

/**
 * A bundle the control plane refuses (422) never stops the queue: the agent finds it in the batch,
 * replaces it by a signed `evidence_refused` alert, seals the bundles after it again and pushes
 * on. The bundle here is what an agent that did not bound pre_state names sealed for a deep
 * mount path: validly signed and linked, refused by the protocol's schema.
 */
describe("a refused bundle in the journal", () => {
  it("becomes a signed alert and the backlog drains", async () => {
    world = await createAgentWorld();
    await runAgent(world.deps({ maxCycles: 1 }), new AbortController().signal);
    const sent = world.cp.bundles.length;
    expect(sent).toBeGreaterThan(0);

    const signer = createSigner(
      privateKeyFromPem(readFileSync(world.config.evidence_key_path, "utf8")),
    );
    const db = new DatabaseSync(join(world.config.state_dir, "journal.sqlite"));
    const state = (key: string) =>
      (db.prepare("SELECT value FROM state WHERE key = ?").get(key) as { value: string }).value;
    const head = JSON.parse(state("head")) as ChainHead;
    const unsigned = {
      v: 1,
      type: "evidence_bundle",
      tenant_id: world.cp.tenantId,
      appliance_id: world.cp.applianceId,
      seq: head.seq + 1,
      prev_hash: head.hash,
      recorded_at: new Date().toISOString(),
      event: {
        kind: "check_result",
        check_id: "backups",
        status: "pass",
        severity: "high",
        findings: [],
        duration_ms: 1,
        pre_state: { [`/srv/${"clinic-share/".repeat(11)}data.free_bytes`]: 1 },
      },
    };
    const bytes = signingBytes(unsigned);
    const hash = sha256Hex(bytes);
    const refused = {
      ...unsigned,
      sig: { alg: "Ed25519", key_id: signer.keyId, value: toBase64(signer.sign(bytes)) },
    };
    db.prepare("INSERT INTO bundles (seq, hash, recorded_at, body) VALUES (?, ?, ?, ?)").run(
      refused.seq,
      hash,
      refused.recorded_at,
      JSON.stringify(refused),
    );
    db.prepare("UPDATE state SET value = ? WHERE key = 'head'").run(
      JSON.stringify({ seq: refused.seq, hash }),
    );
    db.close();

    await runAgent(world.deps({ maxCycles: 2 }), new AbortController().signal);
    const replaced = world.cp.bundles.find((b) => b.seq === refused.seq);
    expect(replaced?.event).toMatchObject({
      kind: "alert",
      code: REFUSED_ALERT,
      subject: `bundle ${refused.seq}`,
      message: expect.stringContaining(hash),
    });
    expect(world.cp.bundles.at(-1)?.seq).toBeGreaterThan(refused.seq);
    const key = verificationKey(signer.publicKey);
    const ids = { tenantId: world.cp.tenantId, applianceId: world.cp.applianceId };
    expect(verifyChain(world.cp.bundles, { key, ...ids }).ok).toBe(true);
    const after = new DatabaseSync(join(world.config.state_dir, "journal.sqlite"));
    const kept = after.prepare("SELECT seq, hash, reason FROM refused_bundles").all();
    const receipted = Number(
      (
        after.prepare("SELECT value FROM state WHERE key = 'receipted_seq'").get() as {
          value: string;
        }
      ).value,
    );
    after.close();
    expect(kept).toEqual([
      { seq: refused.seq, hash, reason: expect.stringContaining("pre_state") },
    ]);
    // The queue moved past it: what followed was receipted (the agent's "stopping" may wait).
    expect(receipted).toBeGreaterThan(refused.seq);
  });
});
