import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testAgentRuntime } from "../scripts/agent-runtime.ts";
import { eventually } from "../scripts/child-processes.ts";
import { type LabTestPair, startLabTestPair } from "../scripts/lab-test-pair.ts";

/**
 * The appliance's own word on its evidence key, with the agent bundle that ships
 * (agent/dist/agent.mjs) as a child process: the console line at enrollment and the `status`
 * subcommand must give the key id in the form an auditor computes from the key with OpenSSL
 * (docs/auditor.md), which is what the auditor pins.
 */
const root = resolve(import.meta.dirname, "..");
const bundle = join(root, "agent", "dist", "agent.mjs");
let dir: string;
let pair: LabTestPair | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-status-"));
});
afterAll(async () => {
  await pair?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The bundle's `status` subcommand, as a technician runs it on the appliance. */
function status(configPath: string, ...args: string[]) {
  const runtime = testAgentRuntime();
  return spawnSync(
    runtime.command,
    [...runtime.flags, bundle, "status", "--config", configPath, ...args],
    { cwd: root, encoding: "utf8", env: { ...process.env, ...runtime.env } },
  );
}

/** The key id as docs/auditor.md computes it, here from the appliance's private key file. */
function opensslKeyId(keyPath: string): string {
  const run = spawnSync(
    "bash",
    [
      "-euo",
      "pipefail",
      "-c",
      'openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | sha256sum | cut -c1-64',
      "key-id",
      keyPath,
    ],
    { encoding: "utf8" },
  );
  expect(run.status, run.stderr).toBe(0);
  return run.stdout.trim();
}

describe("the appliance states its evidence key id", () => {
  it("on a console line at enrollment and in `status`, as OpenSSL computes it", async () => {
    const p = await startLabTestPair({
      dir,
      tenantId: "e2e-status",
      applianceId: "e2e-status-01",
      pollIntervalS: 1,
    });
    pair = p;
    const config = p.agentConfig as { evidence_key_path: string; state_dir: string };
    const enrolled = await p.agent.waitFor(/^compliance-agent: enrolled as appliance/, 30_000);
    const keyId = opensslKeyId(config.evidence_key_path);
    expect(keyId).toMatch(/^[0-9a-f]{64}$/);
    const announced = p.agent.output.find((l) => l.startsWith("compliance-agent: evidence key id"));
    expect(announced).toContain(`evidence key id ${keyId}`);
    expect(p.agent.output.indexOf(announced as string)).toBeLessThan(
      p.agent.output.indexOf(enrolled),
    );
    expect(enrolled).toBe(
      `compliance-agent: enrolled as appliance e2e-status-01 of site e2e-status; evidence key id ${keyId}`,
    );

    // Once it has polled and pushed: the status subcommand, text and JSON.
    await eventually(
      "a poll and a receipt",
      async () => {
        const s = JSON.parse(await readFile(join(config.state_dir, "status.json"), "utf8"));
        return s.last_contact_at && s.receipted_seq > 0 ? s : undefined;
      },
      20_000,
    );
    const text = status(p.configPath);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^enrollment: +enrolled \S+ \(site e2e-status\)$/m);
    expect(text.stdout).toMatch(/^appliance id: +e2e-status-01$/m);
    expect(text.stdout).toMatch(new RegExp(`^evidence key id: +${keyId}$`, "m"));
    expect(text.stdout).toMatch(/^last poll: +\d{4}-\d\d-\d\dT\S+Z/m);
    expect(text.stdout).toMatch(
      /^queue depth: +\d+ bundles not yet receipted \(evidence head \d+, receipted \d+; from journal\)$/m,
    );
    const json = status(p.configPath, "--format", "json");
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      enrollment: "enrolled",
      tenant_id: "e2e-status",
      appliance_id: "e2e-status-01",
      evidence_key_id: keyId,
      agent_state: "running",
      queue_source: "journal",
    });
    expect(report.queue_depth).toBe(report.evidence_head_seq - report.receipted_seq);
    expect(report.receipted_seq).toBeGreaterThan(0);

    // Read-only: after the agent stopped, the journal is as it left it and status still answers.
    expect(await p.stop()).toBe(0);
    pair = undefined;
    const after = JSON.parse(status(p.configPath, "--format", "json").stdout);
    expect(after).toMatchObject({ agent_state: "stopped", evidence_key_id: keyId });
    expect(status(p.configPath, "--format", "yaml").status).toBe(2);
  }, 90_000);
});
