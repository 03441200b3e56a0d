import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  createSigner,
  EvidenceBundle,
  type EvidenceEvent,
  generateEd25519KeyPair,
  tryParseMessage,
  verificationKey,
  verifyChain,
} from "#protocol";
import type { CheckOutcome, DriftCheck, PreState } from "./checks/contract.ts";
import { CHECKS } from "./checks/registry.ts";
import { createCheckRunner, stateKey } from "./checks/runner.ts";
import { instantClock, RESTORE_TEST_DIR, repoBaseline } from "./checks/testing.ts";
import { openJournal, REFUSED_ALERT, UNSEALABLE_ALERT } from "./journal.ts";

/**
 * The agent never seals evidence the control plane refuses: whatever a host shows its checks
 * (deep mount paths, names outside the protocol's alphabet, text with lone surrogates, NaN),
 * every bundle the journal seals passes EvidenceBundle, the schema evidence ingest verifies
 * uploads with, and the check's result is recorded as a check_result (not replaced by an alert).
 */
const dir = mkdtempSync(join(tmpdir(), "agent-evidence-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const signer = createSigner(generateEd25519KeyPair().privateKey);
const key = verificationKey(signer.publicKey);

/** Mount points and device paths as a host may have them: deep, long, odd characters. */
const mountPath = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z0-9_.-]{4,30}$/), fc.string({ minLength: 1 })), {
    minLength: 1,
    maxLength: 12,
    size: "max",
  })
  .map((parts) => `/${parts.join("/")}`);
const name = fc.oneof(
  mountPath,
  mountPath.map((p) => `swap:${p}.kind`),
  fc.string({ unit: "binary", maxLength: 300, size: "max" }),
  fc.string({
    unit: fc.constantFrom("a", "/", "-", ".", "é", "\ud800", "\udc00", " "),
    maxLength: 200,
    size: "max",
  }),
);
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 800 }),
  fc.string({ unit: fc.constantFrom("a", "\ud83d", "\ude00", "😀"), maxLength: 800 }),
);
const scalar = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const hostState: fc.Arbitrary<PreState> = fc
  .array(fc.tuple(name, scalar), { maxLength: 90 })
  .map((entries) => Object.fromEntries(entries));
const finding = fc.record(
  {
    code: fc.constantFrom("luks_volume_unencrypted", "swap_unencrypted"),
    subject: text,
    expected: scalar,
    observed: scalar,
    message: text,
  },
  { requiredKeys: ["code"] },
);
const outcome: fc.Arbitrary<CheckOutcome<"encryption">> = fc.oneof<
  fc.Arbitrary<CheckOutcome<"encryption">>[]
>(
  hostState.map((state) => ({ status: "pass" as const, state })),
  fc
    .tuple(fc.array(finding, { minLength: 1, maxLength: 80 }), hostState)
    .map(
      ([findings, state]) =>
        ({ status: "drift", findings, state }) as unknown as CheckOutcome<"encryption">,
    ),
  fc
    .tuple(fc.constantFrom("skipped" as const, "error" as const), text, hostState)
    .map(([status, reason, state]) => ({ status, reason, state })),
);

describe("evidence the agent seals", () => {
  it("passes the ingest schema for every generated host state, as a check_result", async () => {
    const baseline = await repoBaseline();
    const journal = openJournal(join(dir, "property.sqlite"), ids, signer);
    let observed: CheckOutcome<"encryption"> = { status: "pass", state: {} };
    const check: DriftCheck<"encryption"> = { ...CHECKS.encryption, run: async () => observed };
    const runner = createCheckRunner({
      host: {} as never,
      baseline,
      expected: { backup_jobs: [], luks_volumes: [] },
      restoreTestDir: RESTORE_TEST_DIR,
      clock: instantClock,
      checkTimeoutMs: 1000,
      toolTimeoutMs: 1000,
      checks: { encryption: check },
    });
    await fc.assert(
      fc.asyncProperty(outcome, async (generated) => {
        observed = generated;
        const result = await runner.runOne("encryption", new AbortController().signal);
        const [sealed] = journal.append([result], new Date());
        const bundle = JSON.parse(JSON.stringify(sealed?.bundle)) as unknown;
        const parsed = tryParseMessage(EvidenceBundle, bundle);
        expect(parsed.ok ? "" : parsed.problem).toBe("");
        expect(sealed?.bundle.event.kind).toBe("check_result");
      }),
      { numRuns: 150 },
    );
    const all = journal.bundlesFrom(1, 1000).map((b) => b.bundle);
    expect(verifyChain(all, { key, ...ids }).ok).toBe(true);
    journal.close();
  });

  it("keeps long and rewritten names apart, the same on every run", () => {
    const deep = `/srv/${"clinic-share/".repeat(12)}data`;
    const other = `${deep.slice(0, -4)}dat2`;
    expect(stateKey(deep)).toHaveLength(128);
    expect(stateKey(deep)).toBe(stateKey(deep));
    expect(stateKey(deep)).not.toBe(stateKey(other));
    expect(stateKey("")).toBe("x");
    expect(stateKey("cryptroot.active")).toBe("cryptroot.active");
  });

  it("seals an event the schema refuses as an evidence_unsealable alert, never stopping", () => {
    const journal = openJournal(join(dir, "unsealable.sqlite"), ids, signer);
    const bad = { kind: "alert", code: "Not Snake", severity: "low", message: "x" } as const;
    const lone = { kind: "alert", code: "ok_code", severity: "low", message: "\ud800" } as const;
    const sealed = journal.append([bad, lone, { ...lone, message: "fine" }], new Date());
    expect(sealed.map((s) => s.bundle.event)).toEqual([
      expect.objectContaining({ kind: "alert", code: UNSEALABLE_ALERT, subject: "alert" }),
      expect.objectContaining({ kind: "alert", code: UNSEALABLE_ALERT }),
      expect.objectContaining({ kind: "alert", code: "ok_code", message: "fine" }),
    ]);
    const all = journal.bundlesFrom(1, 10).map((b) => b.bundle);
    expect(verifyChain(all, { key, ...ids }).ok).toBe(true);
    journal.close();
  });

  it("replaces a refused bundle by a signed alert and seals the rest of the queue again", () => {
    const journal = openJournal(join(dir, "refused.sqlite"), ids, signer);
    const event = (n: number): EvidenceEvent => ({
      kind: "alert",
      code: "test_event",
      severity: "low",
      message: `event ${n}`,
    });
    journal.append([1, 2, 3, 4, 5].map(event), new Date("2026-05-01T00:00:00Z"));
    const before = journal.bundlesFrom(1, 10);
    journal.storeReceipt({
      v: 1,
      type: "evidence_receipt",
      receipt_id: "6f1c1a52-8f6e-4a8e-9f7e-0d1c2b3a4f5e",
      ...{ tenant_id: ids.tenantId, appliance_id: ids.applianceId },
      first_seq: 1,
      last_seq: 2,
      last_hash: before[1]?.hash ?? "",
      received_at: "2026-06-01T00:00:00Z",
      sig: { alg: "Ed25519", key_id: "a".repeat(64), value: `${"A".repeat(86)}==` },
    });
    journal.replaceRefused(3, "pre_state key too long");
    const after = journal.bundlesFrom(1, 10);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after[2]?.bundle.event).toMatchObject({
      kind: "alert",
      code: REFUSED_ALERT,
      subject: "bundle 3",
      message: expect.stringContaining(before[2]?.hash as string),
    });
    expect(after.slice(3).map((b) => b.bundle.event)).toEqual(
      before.slice(3).map((b) => b.bundle.event),
    );
    expect(after.map((b) => b.bundle.recorded_at)).toEqual(before.map((b) => b.bundle.recorded_at));
    expect(
      verifyChain(
        after.map((b) => b.bundle),
        { key, ...ids },
      ).ok,
    ).toBe(true);
    expect(journal.head()).toEqual({ seq: 5, hash: after[4]?.hash });
    expect(journal.refusedBundles()).toEqual([
      expect.objectContaining({ seq: 3, hash: before[2]?.hash, reason: "pre_state key too long" }),
    ]);
    // What the control plane holds (receipted) is never rewritten.
    expect(() => journal.replaceRefused(2, "no")).toThrow(/receipted/);
    journal.close();
  });
});
