import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";
import { DRIFT_CHECK_IDS, MaintenanceWindow, SystemdUnitName } from "#catalog";
import { Ed25519PublicKeyBase64 } from "#protocol";
import { AgentError } from "./errors.ts";

const AbsolutePath = z
  .string()
  .min(1)
  .refine(isAbsolute, "use an absolute path, for example /var/lib/compliance-agent");

/** A short identifier of the host: a backup job, a LUKS mapping name. */
const HostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, "use letters, digits, '.', '_', '@' or '-'");

/** The maintenance window schema is shared with the control plane's site policy (catalog). */
export { MaintenanceWindow };

/**
 * What this appliance is expected to be. Thresholds (patch age, backup age, retention) come from
 * the baseline in catalog_dir; these are the facts only the appliance's own configuration knows.
 */
export const ExpectedHost = z.strictObject({
  /** The system the control plane expects (/nix/store/…-nixos-system-…); absent: not compared. */
  expected_system: z
    .string()
    .regex(
      /^\/nix\/store\/[0-9a-z]{32}-[^/]+$/,
      "use a Nix store path such as /nix/store/<hash>-nixos-system-<name>",
    )
    .optional(),
  /** Units that must be active; absent: the baseline's critical-units-running list. */
  critical_services: z.array(SystemdUnitName).optional(),
  /** Backup jobs (services.restic.backups.<name>) whose freshness and test restores are checked. */
  backup_jobs: z.array(HostName).default([]),
  /** LUKS mappings (/dev/mapper/<name>) that must be open. */
  luks_volumes: z.array(HostName).default([]),
  /** The baseline nftables ruleset of this generation, as `nft -j list ruleset` JSON. */
  firewall_ruleset_path: AbsolutePath.optional(),
});
export type ExpectedHost = z.infer<typeof ExpectedHost>;

/** How the healer may act. Audit: detect and record, never change the host. */
export const HealingPolicy = z.strictObject({
  mode: z.enum(["enforce", "audit"]).default("enforce"),
  /** Checks whose drift is recorded but never healed, whatever the mode. */
  audit_only_checks: z.array(z.enum(DRIFT_CHECK_IDS)).default([]),
  maintenance_window: MaintenanceWindow.optional(),
  /** How often the six checks run. */
  check_interval_s: z.int().min(10).max(86_400).default(300),
});
export type HealingPolicy = z.infer<typeof HealingPolicy>;

/**
 * The agent's one config file (JSON, written by the NixOS module). Strict: an unknown field is an
 * error, so a typo never silently falls back to a default. Paths are absolute.
 */
export const AgentConfig = z.strictObject({
  /** https://host[:port] of the control plane; nothing else is ever contacted. */
  control_plane_url: z
    .url({ protocol: /^https$/, error: "use an https:// URL, for example https://cp.example.net" })
    .refine((u) => !/[?#]/.test(u), "use a URL without query or fragment"),
  /** The control plane's order-signing key, raw 32 bytes in base64: every order is checked with it. */
  order_signing_public_key: Ed25519PublicKeyBase64,
  /** PEM bundle of the CA(s) allowed to sign the control plane's server certificate (no system CAs). */
  ca_bundle_path: AbsolutePath,
  /** Journal, enrollment, certificate and status files live here (mode 0700). */
  state_dir: AbsolutePath,
  /** Ed25519 evidence key (PKCS #8 PEM, 0600); generated on first start. */
  evidence_key_path: AbsolutePath,
  /** ECDSA P-256 mTLS client key (PKCS #8 PEM, 0600); generated on first start. */
  tls_key_path: AbsolutePath,
  /**
   * Folder holding baseline/ and runbooks/ (shipped in the appliance's Nix closure). Its
   * runbooks are the local allowlist and their parameter schemas check every order; without it
   * no order can run (each is refused as unknown_runbook).
   */
  catalog_dir: AbsolutePath.optional(),
  /**
   * UNIX socket of the privileged helper (a separate root service that accepts only allowlisted
   * actions). Absent: the agent changes nothing that needs root, and says so in evidence.
   */
  privileged_socket_path: AbsolutePath.optional(),
  /** File holding the one-time enrollment token, if one was provisioned. */
  enrollment_token_path: AbsolutePath.optional(),
  /**
   * Local override of the poll period and its uniform jitter (0.1 = ±10 %). When absent, the
   * control plane's signed settings from enrollment apply; without those, 60 s ± 10 %.
   */
  poll_interval_s: z.int().min(1).max(3600).optional(),
  poll_jitter: z.number().min(0).max(0.5).optional(),
  /** Longest wait between contact attempts while the control plane is unreachable. */
  max_backoff_s: z.int().min(1).max(86_400).default(900),
  /** Each HTTPS request and each check or runbook step is cut off after this long. */
  request_timeout_s: z.int().min(1).max(600).default(30),
  step_timeout_s: z.int().min(1).max(3600).default(300),
  /** Receipted bundles are kept locally this long before pruning; unreceipted ones never go. */
  retention_days: z.number().min(0).max(3650).default(30),
  /**
   * Cap on the journal (MiB). Events may fill 90 % of it; the rest keeps receipts and alerts
   * writable. When full, receipted bundles are pruned early, whatever retention_days says.
   */
  journal_max_mb: z.number().min(0.1).max(1_048_576).default(1024),
  /** SIGTERM/SIGINT: the current step may take this long before the agent exits anyway. */
  shutdown_timeout_s: z.int().min(1).max(300).default(20),
  host: ExpectedHost.default({ backup_jobs: [], luks_volumes: [] }),
  healing: HealingPolicy.default({ mode: "enforce", audit_only_checks: [], check_interval_s: 300 }),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/** Only paths to secret files may come from the environment (systemd credentials, tests). */
export const ENV_OVERRIDES = {
  COMPLIANCE_AGENT_EVIDENCE_KEY_PATH: "evidence_key_path",
  COMPLIANCE_AGENT_TLS_KEY_PATH: "tls_key_path",
  COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH: "enrollment_token_path",
} as const;

export function parseConfig(
  input: unknown,
  env: Readonly<Record<string, string | undefined>> = {},
  source = "config",
): AgentConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new AgentError("invalid_config", `${source}: expected a JSON object`);
  }
  const merged: Record<string, unknown> = { ...input };
  for (const [name, field] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== "") merged[field] = value;
  }
  const result = AgentConfig.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const field = issue.path.join(".") || "(top level)";
      const fromEnv = Object.entries(ENV_OVERRIDES).find(([, f]) => f === field)?.[0];
      const where = fromEnv && env[fromEnv] ? ` (from ${fromEnv})` : "";
      return `  ${field}${where}: ${issue.message}`;
    });
    throw new AgentError("invalid_config", `${source} is invalid:\n${lines.join("\n")}`, {
      cause: result.error,
    });
  }
  return result.data;
}

export function loadConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new AgentError("invalid_config", `cannot read config file ${path}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AgentError("invalid_config", `${path} is not valid JSON: ${String(cause)}`, {
      cause,
    });
  }
  return parseConfig(json, env, path);
}
