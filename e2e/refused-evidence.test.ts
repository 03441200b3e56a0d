import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ChainHead,
  createSigner,
  type EvidenceBundle,
  privateKeyFromPem,
  sha256Hex,
  signingBytes,
  toBase64,
  verificationKey,
  verifyChain,
} from "#protocol";
import { type Child, eventually, startAgentChild } from "../scripts/child-processes.ts";
import { type LabPair, startLabPair } from "../scripts/lab-pair.ts";

/**
 * A bundle the control plane refuses never stops the queue. The journal of a real agent is given
 * a bundle, validly signed and linked, that the protocol's ingest schema refuses (a pre_state
 * name longer than 128 characters, as an agent that did not bound them sealed for a deep mount
 * path). The real control plane answers its upload 422; the agent replaces it by a signed
 * `evidence_refused` alert naming its hash, seals the queue after it again, and everything
 * reaches the control plane as one chain that verifies from genesis.
 */
const TENANT = "refused-clinic";
const APPLIANCE = "refused-clinic-01";
const root = resolve(import.meta.dirname, "..");

let dir: string | undefined;
let pair: LabPair | undefined;
let agent: Child | undefined;
afterAll(async () => {
  await agent?.stop();
  await pair?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("evidence the control plane refuses", () => {
  it("becomes a signed alert and the backlog drains", async () => {
    dir = await mkdtemp(join(tmpdir(), "msp-refused-"));
    pair = await startLabPair({ dir, tenantId: TENANT, applianceId: APPLIANCE, pollIntervalS: 1 });
    const p = pair;
    await p.enrolled();
    const journalPath = join(p.agentConfig.state_dir, "journal.sqlite");
    const stateOf = (db: DatabaseSync, key: string) =>
      (
        db.prepare("SELECT value FROM state WHERE key = ?").get(key) as
          | { value: string }
          | undefined
      )?.value;
    await eventually("the first evidence to be receipted", async () => {
      // The agent creates the journal when it starts: until then there is nothing to read.
      try {
        const db = new DatabaseSync(journalPath, { readOnly: true });
        try {
          return Number(stateOf(db, "receipted_seq") ?? 0) > 0 ? true : undefined;
        } finally {
          db.close();
        }
      } catch {
        return undefined;
      }
    });
    await p.agent.stop();

    // What an agent that did not bound pre_state names sealed: signed, linked, refused by schema.
    const signer = createSigner(
      privateKeyFromPem(await readFile(p.agentConfig.evidence_key_path, "utf8")),
    );
    const db = new DatabaseSync(journalPath);
    const head = JSON.parse(stateOf(db, "head") as string) as ChainHead;
    const unsigned = {
      v: 1,
      type: "evidence_bundle",
      tenant_id: TENANT,
      appliance_id: APPLIANCE,
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
    const refused = {
      ...unsigned,
      sig: { alg: "Ed25519", key_id: signer.keyId, value: toBase64(signer.sign(bytes)) },
    };
    const refusedHash = sha256Hex(bytes);
    db.prepare("INSERT INTO bundles (seq, hash, recorded_at, body) VALUES (?, ?, ?, ?)").run(
      refused.seq,
      refusedHash,
      refused.recorded_at,
      JSON.stringify(refused),
    );
    db.prepare("UPDATE state SET value = ? WHERE key = 'head'").run(
      JSON.stringify({ seq: refused.seq, hash: refusedHash }),
    );
    db.close();

    agent = startAgentChild(
      ["agent/src/main.ts", "--config", p.agentConfigPath, "--lab", "--lab-state", p.labStateFile],
      root,
    );
    const bundles = await eventually(
      "the refusal alert and the evidence after it to reach the control plane",
      async () => {
        const res = await p.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/evidence?limit=1000`);
        const all = (res.body as { bundles: EvidenceBundle[] }).bundles;
        return all.some((b) => b.seq > refused.seq) ? all : undefined;
      },
      60_000,
    );
    const replaced = bundles.find((b) => b.seq === refused.seq);
    expect(replaced?.event).toMatchObject({
      kind: "alert",
      code: "evidence_refused",
      subject: `bundle ${refused.seq}`,
      message: expect.stringContaining(refusedHash),
    });
    const key = verificationKey(signer.publicKey);
    expect(verifyChain(bundles, { key, tenantId: TENANT, applianceId: APPLIANCE }).ok).toBe(true);
    // The agent keeps the refused bundle as it was sealed, with the control plane's reason.
    const after = new DatabaseSync(journalPath, { readOnly: true });
    const kept = after.prepare("SELECT seq, hash, reason FROM refused_bundles").all();
    after.close();
    expect(kept).toEqual([
      {
        seq: refused.seq,
        hash: refusedHash,
        reason: expect.stringMatching(/pre_state|evidence_invalid/),
      },
    ]);
  }, 120_000);
});
