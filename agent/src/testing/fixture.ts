import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createSigner,
  generateEd25519KeyPair,
  type Order,
  publicKeyToBase64,
  type Signer,
} from "#protocol";
import { type AgentConfig, parseConfig } from "../config.ts";
import type { AgentDeps } from "../deps.ts";
import { cleanLabState, createLabHost } from "../host/lab/index.ts";
import { memoryLogger } from "../log.ts";
import { acceleratedClock } from "../ports.ts";
import { simulatedChecks, simulatedExecutor } from "../simulated.ts";
import { httpsTransport } from "../transport.ts";
import {
  startTestControlPlane,
  type TestControlPlane,
  type TestControlPlaneOptions,
} from "./test-control-plane.ts";
import { createTestPki, type TestPki } from "./test-pki.ts";

/**
 * One test world: a temp state dir, a test PKI, a control-plane signing key, a test control
 * plane on loopback HTTPS, and an agent config pointing at it. `deps()` builds in-process agent
 * dependencies with an accelerated clock, so a day of cycles takes seconds.
 */
export interface AgentWorld {
  readonly dir: string;
  readonly configPath: string;
  readonly config: AgentConfig;
  readonly pki: TestPki;
  readonly cpSigner: Signer;
  readonly cp: TestControlPlane;
  readonly executed: Order[];
  deps(overrides?: Partial<AgentDeps>): AgentDeps;
  cleanup(): Promise<void>;
}

export const TEST_RUNBOOKS = new Set(["RB-SERVICE-001-crash", "RB-BACKUP-001-failure"]);

/** A check runner that reports one passing check per cycle. */
export const oneCheck = simulatedChecks(["services"]);

export async function createAgentWorld(
  options: Partial<Omit<TestControlPlaneOptions, "pki" | "signer">> & {
    config?: Record<string, unknown>;
  } = {},
): Promise<AgentWorld> {
  const dir = mkdtempSync(join(tmpdir(), "agent-test-"));
  const pki = await createTestPki();
  const cpSigner = createSigner(generateEd25519KeyPair().privateKey);
  const cp = await startTestControlPlane({ ...options, pki, signer: cpSigner });
  writeFileSync(join(dir, "ca.pem"), pki.caPem);
  const raw = {
    control_plane_url: cp.url,
    order_signing_public_key: publicKeyToBase64(cpSigner.publicKey),
    ca_bundle_path: join(dir, "ca.pem"),
    state_dir: join(dir, "state"),
    evidence_key_path: join(dir, "state", "evidence-key.pem"),
    tls_key_path: join(dir, "state", "tls-key.pem"),
    request_timeout_s: 5,
    ...options.config,
  };
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(raw));
  const config = parseConfig(raw);
  const executed: Order[] = [];
  const executor = simulatedExecutor(executed);
  return {
    dir,
    configPath,
    config,
    pki,
    cpSigner,
    cp,
    executed,
    deps: (overrides = {}) => ({
      config,
      agentVersion: "0.1.0-test",
      clock: acceleratedClock(new Date()),
      host: createLabHost({ state: { ...cleanLabState(new Date()), hostname: "test-appliance" } }),
      log: memoryLogger(),
      transport: (client) =>
        httpsTransport({
          baseUrl: config.control_plane_url,
          caPem: pki.caPem,
          ...(client ? { clientKeyPem: client.keyPem, clientCertPem: client.certPem } : {}),
          timeoutMs: 5_000,
        }),
      checks: oneCheck,
      executor,
      allowlist: TEST_RUNBOOKS,
      random: () => 0.5,
      maxCycles: 1,
      ...overrides,
    }),
    async cleanup() {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
