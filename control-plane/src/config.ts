import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ControlPlaneError } from "./errors.ts";

/**
 * The incident pipeline (control-plane/README.md, "Incident pipeline"). Without `llm` every
 * incident that no control-plane L1 rule answers goes to a human (L3). The API key is read from
 * a file or an environment variable named here, never from this file, and is never logged.
 */
export const PlannerConfig = z.strictObject({
  llm: z
    .strictObject({
      base_url: z.url({ protocol: /^https?$/, error: "use an http(s):// URL ending in /v1" }),
      model: z.string().min(1).max(128),
      api_key_file: z.string().min(1).optional(),
      api_key_env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, "use an environment variable name such as OPENAI_API_KEY")
        .optional(),
      timeout_ms: z.int().min(100).max(120_000).default(20_000),
      max_retries: z.int().min(0).max(5).default(1),
      max_tokens: z.int().min(16).max(4096).default(300),
    })
    .refine((l) => !(l.api_key_file && l.api_key_env), "give api_key_file or api_key_env, not both")
    .optional(),
  webhook: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** File holding the shared HMAC secret (at least 32 characters). */
      secret_file: z.string().min(1),
      timeout_ms: z.int().min(100).max(60_000).default(5000),
      attempts: z.int().min(1).max(10).default(3),
    })
    .optional(),
  blast_radius_per_hour: z.int().min(0).max(100_000).default(20),
  flywheel_min_successes: z.int().min(1).max(1000).default(5),
  order_ttl_s: z
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
  /** Forces the global kill switch on: no automatic (L1/L2) order, whatever the API says. */
  kill_switch: z.boolean().default(false),
});
export type PlannerConfig = z.infer<typeof PlannerConfig>;

/**
 * The control plane's configuration: a strict JSON file (`--config`), or derived from the data
 * directory's layout (`--data-dir`), with command-line flags overriding either. Unknown keys
 * are refused with their path, so a typo never silently falls back to a default.
 */
/**
 * The evidence vault. `archive` is a WORM bucket (S3 Object Lock, COMPLIANCE) or, the
 * embedded default, a local directory that is NOT WORM (lab only). Retention may be raised,
 * never set below six years; checkpoints are published at least hourly.
 */
export const VaultConfig = z.strictObject({
  archive: z
    .discriminatedUnion("kind", [
      z.strictObject({
        kind: z.literal("local-not-worm"),
        /** Default: <data_dir>/vault-not-worm. */
        directory: z.string().min(1).optional(),
      }),
      z.strictObject({
        kind: z.literal("s3"),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "use an S3 bucket name"),
        region: z.string().min(1).default("us-east-1"),
        /** An S3-compatible endpoint with Object Lock; absent: AWS. Credentials: environment. */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        force_path_style: z.boolean().default(false),
      }),
    ])
    .default({ kind: "local-not-worm" }),
  retention_days: z
    .int()
    .min(2192, "45 CFR 164.316(b)(2)(i) needs at least six years (2192 days)")
    .max(36_500)
    .default(2192),
  /** How often the vault job runs: checkpoints, segments, archive uploads. At most hourly. */
  job_interval_s: z.int().min(1).max(3600).default(300),
  /** Segment window in seconds; must divide an hour. */
  segment_seconds: z
    .int()
    .min(1)
    .max(3600)
    .refine((n) => 3600 % n === 0, "use a divisor of 3600, for example 3600 or 300")
    .default(3600),
});
export type VaultConfig = z.infer<typeof VaultConfig>;

export const Config = z.strictObject({
  data_dir: z.string().min(1),
  listen: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.int().min(0).max(65535).default(8443),
    })
    .default({ host: "127.0.0.1", port: 8443 }),
  store: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("sqlite"), path: z.string().optional() }),
      z.strictObject({
        kind: z.literal("postgres"),
        url: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL"),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/)
          .optional(),
      }),
    ])
    .default({ kind: "sqlite" }),
  tls: z.strictObject({ cert: z.string().optional(), key: z.string().optional() }).default({}),
  client_cert_days: z.int().min(1).max(3650).default(825),
  appliance_rate_limit: z
    .strictObject({ per_minute: z.int().min(1), burst: z.int().min(1) })
    .default({ per_minute: 120, burst: 60 }),
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Folder holding baseline/ and runbooks/; default: the catalog shipped beside this code. */
  catalog_dir: z.string().min(1).optional(),
  planner: PlannerConfig.default(PlannerConfig.parse({})),
  vault: VaultConfig.default(VaultConfig.parse({})),
});
export type Config = z.infer<typeof Config>;

/** Where things live in a data directory (created by `control-plane init`). */
export function dataDirLayout(dir: string) {
  const d = resolve(dir);
  return {
    dir: d,
    orderKey: join(d, "keys", "order-signing.key"),
    orderPub: join(d, "keys", "order-signing.pub.pem"),
    orderPubB64: join(d, "keys", "order-signing.pub.b64"),
    secretKey: join(d, "keys", "secret-box.key"),
    tlsCa: join(d, "tls", "ca.pem"),
    tlsCaKey: join(d, "tls", "ca.key"),
    tlsCert: join(d, "tls", "server.pem"),
    tlsKey: join(d, "tls", "server.key"),
    sqlite: join(d, "control-plane.sqlite"),
    vaultLocal: join(d, "vault-not-worm"),
    exports: join(d, "exports"),
    packets: join(d, "packets"),
  };
}

export function loadConfig(options: {
  configFile?: string;
  dataDir?: string;
  overrides?: Record<string, unknown>;
}): Config {
  let raw: Record<string, unknown> = {};
  if (options.configFile) {
    try {
      raw = JSON.parse(readFileSync(options.configFile, "utf8"));
    } catch (cause) {
      throw new ControlPlaneError(
        "invalid_config",
        `cannot read config ${options.configFile}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  if (options.dataDir) raw = { ...raw, data_dir: options.dataDir };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    if (key === "port" || key === "host") {
      raw.listen = { ...(raw.listen as object | undefined), [key]: value };
    } else if (key === "database_url") {
      raw.store = { kind: "postgres", url: value };
    } else {
      raw[key] = value;
    }
  }
  const parsed = Config.safeParse(raw);
  if (!parsed.success)
    throw new ControlPlaneError(
      "invalid_config",
      `invalid configuration:\n${z.prettifyError(parsed.error)}`,
    );
  return parsed.data;
}
