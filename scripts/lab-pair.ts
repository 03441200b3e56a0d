import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { keyId, publicKeyFromBase64 } from "#protocol";
import {
  cleanLabState,
  type Drift,
  injectDrift,
  LAB_BACKUP_JOB,
  LAB_FIREWALL_BASELINE_PATH,
  LAB_LUKS_VOLUMES,
  writeLabStateFile,
} from "../agent/src/host/lab/index.ts";
import { qualifyInDataDir } from "../control-plane/src/testing/qualified-model.ts";
import {
  type Child,
  eventually,
  httpsJson,
  machineMacs,
  startAgentChild,
  startChild,
} from "./child-processes.ts";

/** Changes a lab agent's simulated host, for tests that drive more than the pair's own agent. */
export { injectDrift };

/**
 * The real control plane and the real agent, wired together on loopback in a data folder:
 * `control-plane init` and `serve` (SQLite), one site registered with a one-time token, and the
 * agent started in --lab mode with a config that pins the control plane's CA and order key and
 * takes its runbook allowlist from this repository's catalog. The agent's checks see a lab host
 * (a simulated NixOS appliance) whose state file `labStateFile` the caller may change with
 * `injectDrift`. Used by the lab and the end-to-end tests, which then drive the pair through
 * the admin API.
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
  /** The agent's config file, to start the same appliance again after stopping it. */
  readonly agentConfigPath: string;
  /** The lab host's state file the agent reads (drift goes here). */
  readonly labStateFile: string;
  /** Changes the lab appliance under the running agent (see DRIFT_KINDS). */
  injectDrift(drift: Drift): void;
  /** A JSON request to the admin API (`/v1/admin` + path) with the admin token. */
  admin(path: string, body?: unknown, method?: string): Promise<{ status: number; body: unknown }>;
  /** The control plane's server CA (PEM), for callers that talk to it directly. */
  readonly caPem: string;
  /**
   * The admin account `control-plane init` created (dashboard sign-in), with the base32 TOTP
   * secret init showed once (admins sign in with password and code).
   */
  readonly operator: {
    readonly username: string;
    readonly password: string;
    readonly totpSecret?: string;
  };
  /**
   * Creates an order through the admin API and resolves with it once it has finished
   * (succeeded, failed, rejected or expired); throws if the control plane refuses it.
   */
  runOrder(order: {
    runbook_id: string;
    params?: Record<string, string | number | boolean>;
    /** Who decided; L3 (a person) unless given. */
    tier?: "L1" | "L2" | "L3";
  }): Promise<{ order_id: string; seq: number; status: string }>;
  /** Resolves once the control plane lists the appliance as enrolled and active. */
  enrolled(): Promise<{ evidence_key_fingerprint: string }>;
  /**
   * Registers another appliance of the same tenant and starts its agent (its own state and lab
   * host, with `drift` already in the lab state when it starts). The caller stops it.
   */
  addAgent(applianceId: string, drift?: readonly Drift[]): Promise<LabAgent>;
  /** Stops the agent, then the control plane; the exit codes in that order. */
  stop(): Promise<[number | null, number | null]>;
}

/** One lab agent (child process) of a site. */
export interface LabAgent {
  readonly applianceId: string;
  readonly agent: Child;
  readonly configPath: string;
  readonly agentConfig: LabPair["agentConfig"];
  readonly labStateFile: string;
}

export async function startLabPair(options: {
  dir: string;
  tenantId: string;
  applianceId: string;
  pollIntervalS: number;
  /** Extra control-plane config (for example `planner`); serve then runs with --config. */
  controlPlaneConfig?: Record<string, unknown>;
  /**
   * A model server and model to record a passing signed qualification report for (with the
   * order-signing key `init` made) before serve starts, so the L2 gate opens for it.
   */
  qualifiedModel?: { baseUrl: string; model: string };
  /** How often the agent runs its six checks (config healing.check_interval_s, at least 10). */
  checkIntervalS?: number;
  /** The catalog (baseline/ and runbooks/) the agent ships; this repository's by default. */
  catalogDir?: string;
  /** Extra agent `healing` config (for example an always-open maintenance_window). */
  agentHealing?: Record<string, unknown>;
}): Promise<LabPair> {
  const { dir, tenantId, applianceId } = options;
  const data = join(dir, "control-plane");
  const tokenFile = join(dir, "admin-token");
  const operator = { username: "lab-operator", password: randomBytes(12).toString("base64url") };
  const passwordFile = join(dir, "operator-password");
  await writeSecret(passwordFile, operator.password);
  const init = startChild(
    [
      "control-plane/src/main.ts",
      "init",
      "--data-dir",
      data,
      "--admin-token-file",
      tokenFile,
      "--operator",
      operator.username,
      "--operator-password-file",
      passwordFile,
    ],
    root,
  );
  const initCode = await new Promise((r) => init.process.once("exit", r));
  if (initCode !== 0) throw new Error(`control-plane init failed:\n${init.output.join("\n")}`);
  const totpSecret = init.output
    .map((line) => /TOTP secret \(base32, shown once\): ([A-Z2-7]+)/.exec(line)?.[1])
    .find((secret) => secret !== undefined);
  if (options.qualifiedModel) await qualifyInDataDir(data, options.qualifiedModel);
  const caPem = await readFile(join(data, "tls", "ca.pem"), "utf8");
  const adminToken = (await readFile(tokenFile, "utf8")).trim();

  // The evidence vault runs every 2 s here (production: every few minutes, at most hourly), and
  // archives to the local directory labelled NOT WORM: the lab has no S3 bucket.
  const configFile = join(dir, "control-plane.json");
  await writeSecret(
    configFile,
    JSON.stringify({
      vault: { job_interval_s: 2, segment_seconds: 60 },
      ...options.controlPlaneConfig,
      data_dir: data,
    }),
  );
  const serveArgs = ["serve", "--config", configFile, "--port", "0", "--host", "127.0.0.1"];
  const controlPlane = startChild(["control-plane/src/main.ts", ...serveArgs], root);
  let agent: Child | undefined;
  try {
    const listening = await controlPlane.waitFor(/^listening on https:\/\//);
    const baseUrl = listening.replace(/^listening on /, "").trim();
    const admin = (path: string, body?: unknown, method?: string) =>
      httpsJson(`${baseUrl}/v1/admin${path}`, {
        caPem,
        token: adminToken,
        body,
        ...(method ? { method } : {}),
      });

    const labAgent = (id: string, agentDir: string, drift: readonly Drift[] = []) =>
      startLabAgent({ ...options, applianceId: id, agentDir, baseUrl, data, admin, drift });
    const first = await labAgent(applianceId, join(dir, "agent"));
    agent = first.agent;
    const { agentConfig, labStateFile, configPath: agentConfigPath } = first;
    const started = agent;

    const appliancePath = `/tenants/${tenantId}/appliances/${applianceId}`;
    return {
      baseUrl,
      tenantId,
      applianceId,
      controlPlaneDir: data,
      caPem,
      operator: totpSecret ? { ...operator, totpSecret } : operator,
      agentConfig,
      agentConfigPath,
      controlPlane,
      agent: started,
      labStateFile,
      injectDrift: (drift) => {
        injectDrift(labStateFile, drift);
      },
      admin,
      addAgent: (id, drift) => labAgent(id, join(dir, `agent-${id}`), drift),
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

/** Registers the appliance (one-time token, this machine's MACs) and starts its lab agent. */
async function startLabAgent(o: {
  tenantId: string;
  applianceId: string;
  agentDir: string;
  baseUrl: string;
  data: string;
  admin: (path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
  pollIntervalS: number;
  checkIntervalS?: number;
  catalogDir?: string;
  agentHealing?: Record<string, unknown>;
  drift: readonly Drift[];
}): Promise<LabAgent> {
  const site = await o.admin("/sites", {
    tenant_id: o.tenantId,
    appliance_id: o.applianceId,
    mac_addresses: machineMacs(),
  });
  if (site.status !== 201)
    throw new Error(`site registration failed: ${JSON.stringify(site.body)}`);
  const { enrollment_token } = site.body as { enrollment_token: string };
  const { agentConfig, configPath, labStateFile } = await writeLabAgent({
    ...o,
    caPath: join(o.data, "tls", "ca.pem"),
    orderSigningPublicKey: (
      await readFile(join(o.data, "keys", "order-signing.pub.b64"), "utf8")
    ).trim(),
    enrollmentToken: enrollment_token,
  });
  const agent = startAgentChild(
    ["agent/src/main.ts", "--config", configPath, "--lab", "--lab-state", labStateFile],
    root,
  );
  return { applianceId: o.applianceId, agent, agentConfig, configPath, labStateFile };
}

/**
 * Writes a lab agent's folder: a clean lab appliance (this machine's MACs) with `drift`
 * injected, the enrollment token and a config that pins `caPath` and the order key.
 */
export async function writeLabAgent(o: {
  agentDir: string;
  baseUrl: string;
  caPath: string;
  orderSigningPublicKey: string;
  /** None for an approval-only site: the appliance then waits for an operator's approval. */
  enrollmentToken?: string;
  pollIntervalS: number;
  checkIntervalS?: number;
  catalogDir?: string;
  agentHealing?: Record<string, unknown>;
  drift?: readonly Drift[];
}): Promise<{ agentConfig: LabPair["agentConfig"]; configPath: string; labStateFile: string }> {
  // The lab appliance: clean, with this machine's MACs (the site was registered with them).
  const labStateFile = join(o.agentDir, "lab-host.json");
  const lab = { ...cleanLabState(new Date()), macs: machineMacs() };
  await mkdir(o.agentDir, { recursive: true, mode: 0o700 });
  writeLabStateFile(labStateFile, lab);
  for (const drift of o.drift ?? []) injectDrift(labStateFile, drift);
  const approved = lab.nixos.generations.find((g) => g.number === lab.nixos.current);
  const agentConfig = {
    control_plane_url: o.baseUrl,
    order_signing_public_key: o.orderSigningPublicKey,
    ca_bundle_path: o.caPath,
    state_dir: join(o.agentDir, "state"),
    evidence_key_path: join(o.agentDir, "keys", "evidence-key.pem"),
    tls_key_path: join(o.agentDir, "keys", "tls-key.pem"),
    ...(o.enrollmentToken === undefined
      ? {}
      : { enrollment_token_path: join(o.agentDir, "enrollment-token") }),
    catalog_dir: o.catalogDir ?? root,
    poll_interval_s: o.pollIntervalS,
    poll_jitter: 0,
    max_backoff_s: Math.max(2, o.pollIntervalS * 2),
    host: {
      ...(approved ? { expected_system: approved.system } : {}),
      backup_jobs: [LAB_BACKUP_JOB],
      luks_volumes: [...LAB_LUKS_VOLUMES],
      firewall_ruleset_path: LAB_FIREWALL_BASELINE_PATH,
    },
    healing: { check_interval_s: o.checkIntervalS ?? 10, ...o.agentHealing },
  };
  if (o.enrollmentToken !== undefined && agentConfig.enrollment_token_path !== undefined) {
    await writeSecret(agentConfig.enrollment_token_path, o.enrollmentToken);
  }
  const configPath = join(o.agentDir, "config.json");
  await writeSecret(configPath, JSON.stringify(agentConfig, null, 2));
  return { agentConfig, configPath, labStateFile };
}

async function writeSecret(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, content, { mode: 0o600 });
}

/**
 * The pins file an auditor would write for a lab appliance, from what the appliance itself
 * shows (never from the control plane): its status's evidence key id, as on its console at
 * enrollment, and the control-plane key its configuration pins. See docs/auditor.md.
 */
export async function auditorPinsFile(
  agents: readonly { applianceId: string; agentConfig: LabPair["agentConfig"] }[],
  tenantId: string,
  file: string,
): Promise<string> {
  const cpKeyIds = new Set<string>();
  const appliances: { tenant_id: string; appliance_id: string; key_id: string }[] = [];
  for (const { applianceId, agentConfig } of agents) {
    const status = JSON.parse(
      await readFile(join(agentConfig.state_dir, "status.json"), "utf8"),
    ) as { evidence_key_fingerprint: string };
    appliances.push({
      tenant_id: tenantId,
      appliance_id: applianceId,
      key_id: status.evidence_key_fingerprint,
    });
    cpKeyIds.add(keyId(publicKeyFromBase64(String(agentConfig.order_signing_public_key))));
  }
  await writeFile(
    file,
    `${JSON.stringify({ v: 1, control_plane_key_ids: [...cpKeyIds], appliances }, null, 2)}\n`,
  );
  return file;
}
