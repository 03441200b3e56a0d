import { randomBytes } from "node:crypto";
import { chmod, lchown, mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createSigner, generateEd25519KeyPair, publicKeyToBase64 } from "#protocol";
import {
  startTestControlPlane,
  type TestControlPlane,
} from "../agent/src/testing/test-control-plane.ts";
import { createTestPki } from "../agent/src/testing/test-pki.ts";
import { agentBundleFromSource } from "./build-agent.ts";
import { type Child, startAgentChild } from "./child-processes.ts";
import { type LabPair, writeLabAgent } from "./lab-pair.ts";

/**
 * The real agent process against the agent's test control plane (agent/src/testing/: real HTTPS
 * and mTLS on loopback, orders signed with the key the agent pins, and hooks to serve what the
 * real control plane never would, such as an order that has already expired). The agent is the
 * bundle that ships (built from the sources, as agent/dist/agent.mjs is) in lab mode on a clean
 * lab appliance. For scenario
 * tests that need an order or a poll response the real control plane refuses to make.
 */
const root = resolve(import.meta.dirname, "..");

export interface LabTestPair {
  /** Queue orders here (queueOrder), read what the agent sent (bundles, orderResults). */
  readonly cp: TestControlPlane;
  readonly agent: Child;
  readonly agentConfig: LabPair["agentConfig"];
  /** The agent's config file (for its subcommands, such as `status`). */
  readonly configPath: string;
  readonly labStateFile: string;
  /** Stops the agent (its exit code), then the test control plane. */
  stop(): Promise<number | null>;
}

export async function startLabTestPair(options: {
  dir: string;
  tenantId: string;
  applianceId: string;
  pollIntervalS: number;
  /** Trace the agent's system calls to this file (see startAgentChild). */
  syscallTracePath?: string;
  /** Run the agent as this user and group; `dir` is handed to them first. */
  user?: { uid: number; gid: number };
}): Promise<LabTestPair> {
  const signer = createSigner(generateEd25519KeyPair().privateKey);
  const pki = await createTestPki("Lab test");
  const token = randomBytes(24).toString("base64url");
  const cp = await startTestControlPlane({
    pki,
    signer,
    tenantId: options.tenantId,
    applianceId: options.applianceId,
    enrollmentToken: token,
    // The settings' floor is 10 s; the agent's own poll_interval_s (config) polls faster.
    settings: { poll_interval_s: 10, poll_jitter: 0, evidence_batch_max: 200 },
  });
  try {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const caPath = join(options.dir, "ca.pem");
    await writeFile(caPath, pki.caPem);
    const { agentConfig, configPath, labStateFile } = await writeLabAgent({
      agentDir: join(options.dir, "agent"),
      baseUrl: cp.url,
      caPath,
      orderSigningPublicKey: publicKeyToBase64(signer.publicKey),
      enrollmentToken: token,
      pollIntervalS: options.pollIntervalS,
    });
    const bundle = await agentBundleFromSource();
    if (options.user !== undefined) {
      await handOver(options.dir, options.user);
      await chmod(dirname(bundle), 0o755);
    }
    const agent = startAgentChild(
      [bundle, "--config", configPath, "--lab", "--lab-state", labStateFile],
      root,
      {},
      { syscallTracePath: options.syscallTracePath, user: options.user },
    );
    return {
      cp,
      agent,
      agentConfig,
      configPath,
      labStateFile,
      stop: async () => {
        const code = await agent.stop();
        await cp.close();
        return code;
      },
    };
  } catch (error) {
    await cp.close();
    throw error;
  }
}

/** `dir` and everything under it now belong to `user`. */
async function handOver(dir: string, user: { uid: number; gid: number }): Promise<void> {
  await lchown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    await lchown(join(entry.parentPath, entry.name), user.uid, user.gid);
  }
}
