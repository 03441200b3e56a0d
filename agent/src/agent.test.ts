import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GENESIS_HEAD, publicKeyFromBase64, verificationKey, verifyChain } from "#protocol";
import { runAgent } from "./agent.ts";
import { memoryLogger } from "./log.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the agent against a control plane on loopback HTTPS (mTLS)", () => {
  it("makes its keys, waits out a pending enrollment, enrolls and pushes a verifiable chain", async () => {
    world = await createAgentWorld({ pendingAnswers: 2 });
    const log = memoryLogger();
    const status = await runAgent(world.deps({ log, maxCycles: 2 }), new AbortController().signal);

    const state = world.config.state_dir;
    expect(mode(world.config.evidence_key_path)).toBe(0o600);
    expect(mode(world.config.tls_key_path)).toBe(0o600);
    expect(mode(join(state, "enrollment.json"))).toBe(0o600);
    expect(mode(state)).toBe(0o700);
    // Pending answers: the fingerprint went to the log for the operator to compare.
    const pending = log.lines.filter((l) => l.msg.startsWith("enrollment pending"));
    expect(pending).toHaveLength(2);
    expect(world.cp.enrollments).toHaveLength(3);
    expect(world.cp.enrollments[0]?.evidence_key_fingerprint).toBe(status.evidence_key_fingerprint);

    // Everything recorded was pushed and receipted; the chain verifies from genesis.
    const request = world.cp.enrollments[0];
    if (!request) throw new Error("no enrollment");
    const key = verificationKey(publicKeyFromBase64(request.evidence_public_key));
    const verdict = verifyChain(world.cp.bundles, {
      key,
      tenantId: world.cp.tenantId,
      applianceId: world.cp.applianceId,
      from: GENESIS_HEAD,
    });
    expect(verdict.ok).toBe(true);
    const kinds = world.cp.bundles.map((b) =>
      b.event.kind === "agent_lifecycle" ? b.event.event : b.event.kind,
    );
    expect(kinds.slice(0, 5)).toEqual([
      "enrollment_statement",
      "key_generated",
      "enrolled",
      "started",
      "check_result",
    ]);
    expect(status.state).toBe("stopped");
    // The stopping bundle was written after the last push: it waits for the next start.
    expect(status.backlog).toBe(1);
    expect(status.receipted_seq).toBe(world.cp.bundles.length);
    const file = JSON.parse(readFileSync(join(state, "status.json"), "utf8"));
    expect(file).toMatchObject({ state: "stopped", cycles: 2, backlog: 1, version: "0.1.0-test" });
    expect(world.cp.polls).toHaveLength(2);
    expect(new Set(world.cp.polls.map((p) => p.nonce)).size).toBe(2);
  });

  it("refuses an enrollment answer that is not signed by the pinned key", async () => {
    world = await createAgentWorld();
    const other = await createAgentWorld();
    try {
      const log = memoryLogger();
      const stop = new AbortController();
      // Point the agent (pinned to `world`'s key) at the other control plane.
      const deps = world.deps({
        log,
        config: { ...world.config, control_plane_url: other.cp.url },
        transport: other.deps().transport,
        clock: {
          now: () => new Date(),
          sleep: async () => {
            stop.abort();
          },
        },
      });
      const status = await runAgent(deps, stop.signal);
      expect(status.state).toBe("stopped");
      expect(status.tenant_id).toBeNull();
      expect(log.lines.some((l) => l.msg === "enrollment attempt failed")).toBe(true);
      expect(() => statSync(join(world.config.state_dir, "enrollment.json"))).toThrow();
    } finally {
      await other.cleanup();
    }
  });

  it("fails at once, naming the token file, when the token cannot be valid", async () => {
    world = await createAgentWorld();
    const tokenPath = join(world.dir, "token");
    writeFileSync(tokenPath, "short\n", { mode: 0o600 });
    const deps = world.deps({ config: { ...world.config, enrollment_token_path: tokenPath } });
    await expect(runAgent(deps, new AbortController().signal)).rejects.toThrow(
      /enrollment token file/,
    );
    expect(world.cp.enrollments).toHaveLength(0);
  });
});
