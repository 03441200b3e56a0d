import { describe, expect, it } from "vitest";
import { createSigner, generateEd25519KeyPair, type Signer } from "#protocol";
import { type SignedRuleSetCache, signedRuleSet } from "./flywheel.ts";

const RULE = {
  rule_id: "5b0b3c1e-8f1d-4e55-9a57-0f3f2a4c9d10",
  check_id: "services",
  finding: "cpu_load_high",
  runbook_id: "RB-CPU-001-high",
  approved_by: "operator@msp.example",
  approved_at: "2026-11-30T00:00:00.000Z",
  successes: 3,
};

describe("signedRuleSet's cache", () => {
  it("signs a version once per appliance and signs again when the site's set changes", async () => {
    const base = createSigner(generateEd25519KeyPair().privateKey);
    let signatures = 0;
    const signer: Signer = {
      ...base,
      sign: (m) => {
        signatures++;
        return base.sign(m);
      },
    };
    let latest = {
      tenantId: "t",
      version: 1,
      issuedAt: "2026-12-01T00:00:00.000Z",
      rulesJson: JSON.stringify([RULE]),
    };
    const ctx = { signer, store: { planner: { latestRuleSet: async () => latest } } } as never;
    const cache: SignedRuleSetCache = new Map();

    const first = await signedRuleSet(ctx, "t", "t-01", cache);
    expect(await signedRuleSet(ctx, "t", "t-01", cache)).toBe(first);
    expect(signatures).toBe(1);
    // Another appliance is another audience: its own signature.
    expect(await signedRuleSet(ctx, "t", "t-02", cache)).toMatchObject({ appliance_id: "t-02" });
    expect(signatures).toBe(2);
    // The next version is signed at the next poll.
    latest = { ...latest, version: 2, rulesJson: "[]" };
    expect(await signedRuleSet(ctx, "t", "t-01", cache)).toMatchObject({ version: 2, rules: [] });
    expect(signatures).toBe(3);
    // A tenant deleted and registered again starts at version 1 with other rules: not the old copy.
    latest = { ...latest, version: 1, issuedAt: "2026-12-02T00:00:00.000Z", rulesJson: "[]" };
    expect(await signedRuleSet(ctx, "t", "t-01", cache)).toMatchObject({
      version: 1,
      issued_at: "2026-12-02T00:00:00.000Z",
      rules: [],
    });
    expect(signatures).toBe(4);
  });
});
