/**
 * The control plane side of the NixOS VM tests (nix/tests/appliance-scenarios.nix), run inside
 * the appliance VM beside the real agent service: the agent's test control plane (real HTTPS
 * and mTLS) behind a fixed loopback port, driven by the five scenarios of the plan. It signs
 * with a fixed TEST-ONLY order key (a public seed, never used outside VM tests) whose public
 * half the VM's agent config pins, and writes what it received to <out>/bundles.json so the
 * test script can assert on the evidence.
 *   node scenario-control-plane.ts <scenario> <out-dir>
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createSigner, privateKeyFromSeed } from "#protocol";
import { startTestControlPlane } from "../../agent/src/testing/test-control-plane.ts";
import { createTestPki } from "../../agent/src/testing/test-pki.ts";

/** TEST ONLY: the VM tests' order key seed. Its public key is TEST_ORDER_PUBLIC_KEY in tests. */
export const TEST_ORDER_KEY_SEED = new Uint8Array(32).fill(0x5a);
export const SCENARIO_PORT = 8443;
export const SCENARIOS = [
  "bad-signature",
  "expired-ttl",
  "control-plane-down",
  "rebuild-failure",
  "dns-failure",
] as const;
type Scenario = (typeof SCENARIOS)[number];

function isScenario(name: string): name is Scenario {
  return (SCENARIOS as readonly string[]).includes(name);
}

async function main(argv: readonly string[]): Promise<void> {
  const { positionals } = parseArgs({ args: [...argv], allowPositionals: true });
  const [scenario = "", out = ""] = positionals;
  if (!isScenario(scenario) || out === "") {
    throw new Error(`usage: scenario-control-plane.ts <${SCENARIOS.join("|")}> <out-dir>`);
  }
  mkdirSync(out, { recursive: true });
  const pki = await createTestPki("VM test");
  writeFileSync(join(out, "ca.pem"), pki.caPem);
  const signer = createSigner(privateKeyFromSeed(TEST_ORDER_KEY_SEED));
  const cp = await startTestControlPlane({
    pki,
    signer,
    settings: { poll_interval_s: 5, poll_jitter: 0.1, evidence_batch_max: 200 },
  });

  // The agent's config names a fixed URL; the test control plane listens on a random port.
  const proxy = createServer((client) => {
    const upstream = tcpConnect(cp.port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((resolve) => proxy.listen(SCENARIO_PORT, "127.0.0.1", resolve));

  const now = Date.now();
  const iso = (offsetMs: number) => new Date(now + offsetMs).toISOString();
  switch (scenario) {
    case "bad-signature":
      // Signed by a key the appliance does not pin: refused, recorded as `rejected`.
      cp.queueOrder({
        runbook_id: "RB-SERVICE-001-crash",
        params: { unit: "chronyd.service" },
        signer: createSigner(privateKeyFromSeed(new Uint8Array(32).fill(0x11))),
      });
      break;
    case "expired-ttl":
      cp.queueOrder({
        runbook_id: "RB-SERVICE-001-crash",
        params: { unit: "chronyd.service" },
        issued_at: iso(-2 * 3600_000),
        expires_at: iso(-3600_000),
      });
      break;
    case "control-plane-down":
      // Down for the first 60 s: the agent queues its evidence, then flushes it and gets receipts.
      cp.available = false;
      setTimeout(() => {
        cp.available = true;
      }, 60_000);
      break;
    case "rebuild-failure":
      // A generation switch to a system that fails its health gate: the runbook rolls back.
      cp.queueOrder({ runbook_id: "RB-PATCH-001-generation", params: { generation: "expected" } });
      break;
    case "dns-failure":
      // Nothing to do here: the VM points the agent at a name that does not resolve.
      break;
  }

  const dump = () =>
    writeFileSync(
      join(out, "bundles.json"),
      JSON.stringify({
        bundles: cp.bundles,
        receipts: cp.receipts.length,
        orderResults: cp.orderResults,
        enrollments: cp.enrollments.length,
      }),
    );
  setInterval(dump, 1000);
  writeFileSync(join(out, "ready"), `${SCENARIO_PORT}\n`);
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
