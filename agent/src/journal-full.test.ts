import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import {
  type EvidenceBundle,
  GENESIS_HEAD,
  publicKeyFromBase64,
  verificationKey,
  verifyChain,
} from "#protocol";
import { runAgent } from "./agent.ts";
import type { CheckRunner } from "./ports.ts";
import { acceleratedClock } from "./ports.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

const sixChecks: CheckRunner = {
  run: async () =>
    ["patching", "services", "backups", "firewall", "logging", "encryption"].map((check_id) => ({
      kind: "check_result" as const,
      check_id,
      status: "pass" as const,
      severity: "low" as const,
      findings: [{ code: "state_ok", subject: `${check_id}.service` }],
      duration_ms: 1,
    })),
};

describe("a full journal", () => {
  it("refuses writes with an alert, never tears the chain, and recovers once bundles are receipted", async () => {
    world = await createAgentWorld({
      settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 200 },
      config: { journal_max_mb: 0.25 },
    });
    const { cp } = world;
    const clock = acceleratedClock(new Date("2026-11-25T00:00:00Z"));
    const deps = (maxCycles: number) => world.deps({ clock, maxCycles, checks: sixChecks });
    const signal = new AbortController().signal;

    await runAgent(deps(1), signal);
    cp.available = false;
    let status = await runAgent(deps(120), signal);
    expect(status.last_error).toMatch(/disk_full/);
    const full = status.evidence_head_seq;

    const db = new DatabaseSync(join(world.config.state_dir, "journal.sqlite"), { readOnly: true });
    const rows = db.prepare("SELECT body FROM bundles ORDER BY seq").all() as { body: string }[];
    db.close();
    const bundles = rows.map((r) => JSON.parse(r.body) as EvidenceBundle);
    const key = verificationKey(publicKeyFromBase64(cp.enrollments[0]?.evidence_public_key ?? ""));
    const ids = { key, tenantId: cp.tenantId, applianceId: cp.applianceId };
    // Receipted bundles may have been pruned early to make room; the rest still links up.
    const first = bundles[0];
    const from = first ? { seq: first.seq - 1, hash: first.prev_hash } : GENESIS_HEAD;
    expect(verifyChain(bundles, { ...ids, from }).ok).toBe(true);
    expect(bundles.at(-1)?.seq).toBe(full);
    expect(
      bundles.filter((b) => b.event.kind === "alert" && b.event.code === "journal_full"),
    ).toHaveLength(1);
    expect(full).toBeLessThan(1 + 120 * 6); // writes were refused

    // The control plane is back: the backlog is receipted, pruned early, and events flow again.
    cp.available = true;
    status = await runAgent(deps(20), signal);
    expect(status.evidence_head_seq).toBeGreaterThan(full + 6);
    expect(verifyChain(cp.bundles, { ...ids, from: GENESIS_HEAD }).ok).toBe(true);
    const alerts = cp.bundles.flatMap((b) => (b.event.kind === "alert" ? [b.event.code] : []));
    expect(alerts).toEqual(["control_plane_unreachable", "journal_full", "journal_recovered"]);
  }, 120_000);
});
