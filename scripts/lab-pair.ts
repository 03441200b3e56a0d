import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type Child, eventually, httpsJson, machineMacs, startChild } from "./child-processes.ts";

/**
 * The real control plane and the real agent, wired together on loopback in a data folder:
 * `control-plane init` and `serve` (SQLite), one site registered with a one-time token, and the
 * agent started in --lab mode with a config that pins the control plane's CA and order key and
 * takes its runbook allowlist from this repository's catalog. Used by the lab and the
 * end-to-end tests, which then drive the pair through the admin API.
 */
const root = resolve(import.meta.dirname, "..");
const FINISHED = ["succeeded", "failed", "rejected", "expired"];

export interface LabPair {
  readonly baseUrl: string;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly controlPlaneDir: string;
  readonly agentConfig: Readonly<Record<string, unknown>> & {
    evidence_key_path: string;
    state_dir: string;
  };
  readonly controlPlane: Child;
  readonly agent: Child;
  /** A JSON request to the admin API (`/v1/admin` + path) with the admin token. */
  admin(path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /**
   * Creates an order through the admin API and resolves with it once it has finished
   * (succeeded, failed, rejected or expired); throws if the control plane refuses it.
   */
  runOrder(order: {
    runbook_id: string;
    params?: Record<string, string | number | boolean>;
  }): Promise<{ order_id: string; seq: number; status: string }>;
  /** Resolves once the control plane lists the appliance as enrolled and active. */
  enrolled(): Promise<{ evidence_key_fingerprint: string }>;
  /** Stops the agent, then the control plane; the exit codes in that order. */
  stop(): Promise<[number | null, number | null]>;
}

export async function startLabPair(options: {
  dir: string;
  tenantId: string;
  applianceId: string;
  pollIntervalS: number;
}): Promise<LabPair> {
  const { dir, tenantId, applianceId } = options;
  const data = join(dir, "control-plane");
  const tokenFile = join(dir, "admin-token");
  const init = startChild(
    ["control-plane/src/main.ts", "init", "--data-dir", data, "--admin-token-file", tokenFile],
    root,
  );
  const initCode = await new Promise((r) => init.process.once("exit", r));
  if (initCode !== 0) throw new Error(`control-plane init failed:\n${init.output.join("\n")}`);
  const caPem = await readFile(join(data, "tls", "ca.pem"), "utf8");
  const adminToken = (await readFile(tokenFile, "utf8")).trim();

  // The evidence vault runs every 2 s here (production: every few minutes, at most hourly), and
  // archives to the local directory labelled NOT WORM: the lab has no S3 bucket.
  const serveConfig = join(dir, "control-plane.json");
  await writeFile(
    serveConfig,
    JSON.stringify({ data_dir: data, vault: { job_interval_s: 2, segment_seconds: 60 } }),
  );
  const serveArgs = ["serve", "--config", serveConfig, "--port", "0", "--host", "127.0.0.1"];
  const controlPlane = startChild(["control-plane/src/main.ts", ...serveArgs], root);
  let agent: Child | undefined;
  try {
    const listening = await controlPlane.waitFor(/^listening on https:\/\//);
    const baseUrl = listening.replace(/^listening on /, "").trim();
    const admin = (path: string, body?: unknown) =>
      httpsJson(`${baseUrl}/v1/admin${path}`, { caPem, token: adminToken, body });

    const site = await admin("/sites", {
      tenant_id: tenantId,
      appliance_id: applianceId,
      mac_addresses: machineMacs(),
    });
    if (site.status !== 201)
      throw new Error(`site registration failed: ${JSON.stringify(site.body)}`);
    const { enrollment_token } = site.body as { enrollment_token: string };

    const agentDir = join(dir, "agent");
    const agentConfig = {
      control_plane_url: baseUrl,
      order_signing_public_key: (
        await readFile(join(data, "keys", "order-signing.pub.b64"), "utf8")
      ).trim(),
      ca_bundle_path: join(data, "tls", "ca.pem"),
      state_dir: join(agentDir, "state"),
      evidence_key_path: join(agentDir, "keys", "evidence-key.pem"),
      tls_key_path: join(agentDir, "keys", "tls-key.pem"),
      enrollment_token_path: join(agentDir, "enrollment-token"),
      catalog_dir: root,
      poll_interval_s: options.pollIntervalS,
      poll_jitter: 0,
      max_backoff_s: Math.max(2, options.pollIntervalS * 2),
    };
    await writeSecret(agentConfig.enrollment_token_path, enrollment_token);
    const configPath = join(agentDir, "config.json");
    await writeSecret(configPath, JSON.stringify(agentConfig, null, 2));
    agent = startChild(["agent/src/main.ts", "--config", configPath, "--lab"], root);
    const started = agent;

    const appliancePath = `/tenants/${tenantId}/appliances/${applianceId}`;
    return {
      baseUrl,
      tenantId,
      applianceId,
      controlPlaneDir: data,
      agentConfig,
      controlPlane,
      agent: started,
      admin,
      runOrder: async (order) => {
        const created = await admin(`${appliancePath}/orders`, {
          tier: "L3",
          ttl_s: 600,
          ...order,
        });
        if (created.status !== 201) {
          throw new Error(`order refused by the control plane: ${JSON.stringify(created.body)}`);
        }
        const { order_id } = created.body as { order_id: string };
        return eventually(`order ${order_id} to finish`, async () => {
          const res = await admin(`/tenants/${tenantId}/orders/${order_id}`);
          const body = res.body as { order_id: string; seq: number; status: string };
          return FINISHED.includes(body.status) ? body : undefined;
        });
      },
      enrolled: () =>
        eventually("the appliance to enroll", async () => {
          const body = (await admin(appliancePath)).body as {
            status?: string;
            evidence_key_fingerprint: string;
          };
          return body.status === "active" ? body : undefined;
        }),
      stop: async () => [await started.stop(), await controlPlane.stop()],
    };
  } catch (error) {
    await agent?.stop();
    await controlPlane.stop();
    throw error;
  }
}

async function writeSecret(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, content, { mode: 0o600 });
}
