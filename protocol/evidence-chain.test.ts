import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalize } from "./canonical-json.ts";
import { generateEd25519KeyPair } from "./ed25519.ts";
import {
  type BundleDraft,
  bundleHash,
  GENESIS_HEAD,
  sealBundle,
  verifyChain,
} from "./evidence-chain.ts";
import type { ChainHead } from "./schemas/common.ts";
import type { EvidenceBundle } from "./schemas/evidence.ts";
import { createSigner, verificationKey } from "./signed-document.ts";

const TENANT = "clinic-a";
const APPLIANCE = "clinic-a-01";
const { privateKey } = generateEd25519KeyPair();
const signer = createSigner(privateKey);
const key = verificationKey(signer.publicKey);
const options = { key, tenantId: TENANT, applianceId: APPLIANCE };

function draft(n: number, overrides: Partial<BundleDraft> = {}): BundleDraft {
  return {
    tenant_id: TENANT,
    appliance_id: APPLIANCE,
    recorded_at: new Date(Date.UTC(2026, 10, 25, 12, 0, n)).toISOString(),
    event: {
      kind: "check_result",
      check_id: "backups",
      status: n % 3 === 0 ? "drift" : "pass",
      severity: "high",
      findings:
        n % 3 === 0 ? [{ code: "backup_stale", subject: "restic-nightly", observed: 50 }] : [],
      duration_ms: n,
    },
    ...overrides,
  };
}

function chain(length: number, from: ChainHead = GENESIS_HEAD) {
  const bundles: EvidenceBundle[] = [];
  let head = from;
  for (let i = 0; i < length; i++) {
    const sealed = sealBundle(draft(i), head, signer);
    bundles.push(sealed.bundle);
    head = sealed.head;
  }
  return { bundles, head };
}

describe("sealBundle", () => {
  it("numbers, links and signs each bundle; its hash is SHA-256 of the unsigned canonical bytes", () => {
    const { bundles, head } = chain(3);
    expect(bundles.map((b) => b.seq)).toEqual([1, 2, 3]);
    expect(bundles[0]?.prev_hash).toBe(GENESIS_HEAD.hash);
    expect(bundles[1]?.prev_hash).toBe(bundleHash(bundles[0] as EvidenceBundle));
    expect(bundles[2]?.prev_hash).toBe(bundleHash(bundles[1] as EvidenceBundle));
    expect(head).toEqual({ seq: 3, hash: bundleHash(bundles[2] as EvidenceBundle) });
    expect(bundles[0]?.sig.key_id).toBe(signer.keyId);
  });
});

describe("verifyChain", () => {
  const { bundles, head } = chain(6);

  it("accepts an intact chain and reports its head", () => {
    expect(verifyChain(bundles, { ...options, expectedHead: head })).toEqual({
      ok: true,
      head,
      count: 6,
    });
  });

  it("accepts an empty run and a run that continues from a known head", () => {
    expect(verifyChain([], options)).toEqual({ ok: true, head: GENESIS_HEAD, count: 0 });
    const first = chain(4);
    const rest = chain(3, first.head);
    expect(verifyChain(rest.bundles, { ...options, from: first.head })).toMatchObject({
      ok: true,
      head: rest.head,
    });
    // Without the starting point the continuation is not a chain from genesis.
    expect(verifyChain(rest.bundles, options)).toMatchObject({
      ok: false,
      break: { index: 0, reason: "sequence_gap" },
    });
  });

  const otherSigner = createSigner(generateEd25519KeyPair().privateKey);
  const at = (i: number) => bundles[i] as EvidenceBundle;
  const forked = sealBundle(draft(99), { seq: 2, hash: bundleHash(at(1)) }, signer).bundle;

  it.each([
    ["malformed", () => [at(0), { ...at(1), seq: "2" }], 1, "malformed"],
    ["another tenant", () => [at(0), { ...at(1), tenant_id: "clinic-b" }], 1, "wrong_tenant"],
    [
      "another appliance",
      () => [at(0), { ...at(1), appliance_id: "clinic-a-02" }],
      1,
      "wrong_appliance",
    ],
    [
      "a changed field",
      () => [at(0), { ...at(1), recorded_at: "2026-11-25T13:00:00Z" }],
      1,
      "bad_signature",
    ],
    [
      "another key",
      () => [at(0), sealBundle(draft(1), { seq: 1, hash: bundleHash(at(0)) }, otherSigner).bundle],
      1,
      "bad_signature",
    ],
    ["a duplicate", () => [at(0), at(1), at(1), at(2)], 2, "duplicate"],
    ["a fork", () => [at(0), at(1), at(2), forked], 3, "fork"],
    ["a swap", () => [at(0), at(2), at(1), at(3)], 1, "reorder"],
    ["an older bundle after newer ones", () => [at(1), at(2), at(0)], 0, "reorder"],
    ["a missing bundle", () => [at(0), at(1), at(3), at(4)], 2, "sequence_gap"],
    [
      "a wrong link",
      () => [at(0), sealBundle(draft(1), { seq: 1, hash: "f".repeat(64) }, signer).bundle],
      1,
      "wrong_prev_hash",
    ],
  ])("names %s precisely", (_name, build, index, reason) => {
    const verdict = verifyChain(build(), options);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.break).toMatchObject({ index, reason });
      expect(verdict.break.detail.length).toBeGreaterThan(0);
    }
  });

  it("reports the last verified head before the break", () => {
    const verdict = verifyChain([at(0), at(1), at(3)], options);
    expect(verdict).toMatchObject({
      ok: false,
      verifiedHead: { seq: 2, hash: bundleHash(at(1)) },
      count: 2,
    });
  });

  it("detects a dropped tail and a rewritten head against a known head", () => {
    expect(verifyChain(bundles.slice(0, 5), { ...options, expectedHead: head })).toMatchObject({
      ok: false,
      break: { index: -1, reason: "truncated" },
    });
    expect(
      verifyChain(bundles, { ...options, expectedHead: { seq: 6, hash: "e".repeat(64) } }),
    ).toMatchObject({ ok: false, break: { reason: "fork", seq: 6 } });
  });
});

describe("tamper properties: every change to a chain is detected", () => {
  const length = fc.integer({ min: 2, max: 10 });
  const verify = (list: readonly unknown[], head: ChainHead) =>
    verifyChain(list, { ...options, expectedHead: head }).ok;

  it("any flipped byte in any bundle", () => {
    fc.assert(
      fc.property(
        length,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (n, which, pos, mask) => {
          const { bundles, head } = chain(n);
          const i = which % n;
          const bytes = new TextEncoder().encode(canonicalize(bundles[i]));
          const p = pos % bytes.length;
          bytes[p] = (bytes[p] as number) ^ mask;
          let changed: unknown;
          try {
            changed = JSON.parse(new TextDecoder().decode(bytes));
          } catch {
            return; // no longer JSON: refused before it reaches the chain
          }
          const list = bundles.slice();
          list[i] = changed as EvidenceBundle;
          expect(verify(list, head)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("any dropped bundle", () => {
    fc.assert(
      fc.property(length, fc.nat(), (n, which) => {
        const { bundles, head } = chain(n);
        const list = bundles.filter((_, i) => i !== which % n);
        expect(verify(list, head)).toBe(false);
      }),
    );
  });

  it("any inserted bundle, even one validly signed by the appliance key", () => {
    fc.assert(
      fc.property(length, fc.nat(), fc.nat(), (n, forkAt, where) => {
        const { bundles, head } = chain(n);
        const base = forkAt % n;
        const prev =
          base === 0
            ? GENESIS_HEAD
            : { seq: base, hash: bundleHash(bundles[base - 1] as EvidenceBundle) };
        const intruder = sealBundle(draft(1000 + base), prev, signer).bundle;
        const list: unknown[] = bundles.slice();
        list.splice(where % (n + 1), 0, intruder);
        expect(verify(list, head)).toBe(false);
      }),
    );
  });

  it("any duplicated bundle", () => {
    fc.assert(
      fc.property(length, fc.nat(), fc.nat(), (n, which, where) => {
        const { bundles, head } = chain(n);
        const list: unknown[] = bundles.slice();
        list.splice(where % (n + 1), 0, bundles[which % n]);
        expect(verify(list, head)).toBe(false);
      }),
    );
  });

  it("any reordering", () => {
    fc.assert(
      fc.property(length, fc.nat(), fc.nat(), (n, a, b) => {
        fc.pre(a % n !== b % n);
        const { bundles, head } = chain(n);
        const list = bundles.slice();
        [list[a % n], list[b % n]] = [list[b % n] as EvidenceBundle, list[a % n] as EvidenceBundle];
        expect(verify(list, head)).toBe(false);
      }),
    );
  });
});
