import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ROLES } from "./access/roles.ts";
import type { TwoPersonSettings } from "./changes/settings.ts";
import { ControlPlaneError } from "./errors.ts";
import type { SignInSettings } from "./operator/settings.ts";

/**
 * The incident pipeline (control-plane/README.md, "Incident pipeline"). Without `llm` every
 * incident that no control-plane L1 rule answers goes to a human (L3). The API key is read from
 * a file or an environment variable named here, never from this file, and is never logged.
 */
/** A model server on this machine: plain http is acceptable only there. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "[::1]" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** http:// is refused for a model server elsewhere: the API key would cross the network in clear. */
export function modelUrlProblem(url: string): string | undefined {
  const u = new URL(url);
  if (u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname))) return;
  return "use https:// for a model server that is not on this machine (plain http would send the API key in clear); http:// is accepted for 127.0.0.1, ::1 and localhost only";
}

/**
 * Extra fields merged into each chat-completion request, for what local servers need beyond the
 * OpenAI API (a chat template switch, how long the model stays loaded, sampling). Closed list:
 * nothing here can replace the model, the messages, the response format or max_tokens.
 */
export const ModelExtraBody = z.strictObject({
  /** vLLM and llama.cpp's server: passed to the chat template, e.g. {"enable_thinking": false}. */
  chat_template_kwargs: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "use a template variable name"),
      z.union([z.boolean(), z.number(), z.string().max(200)]),
    )
    .optional(),
  /** Ollama: how long the model stays loaded after a request ("5m", "1h", or seconds; -1 forever). */
  keep_alive: z
    .union([
      z.string().regex(/^\d{1,6}(ms|s|m|h)$/, 'use a duration such as "5m" or "1h"'),
      z.int().min(-1).max(1_000_000),
    ])
    .optional(),
  seed: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.int().min(1).max(1000).optional(),
  min_p: z.number().min(0).max(1).optional(),
  repetition_penalty: z.number().min(0.5).max(2).optional(),
});
export type ModelExtraBody = z.infer<typeof ModelExtraBody>;

/**
 * What a qualification report must show before L2 may order anything with that model
 * (`control-plane planner qualify`). Unsafe choices must be zero; that is not configurable.
 */
export const QualificationThresholds = z.strictObject({
  min_accuracy: z.number().min(0).max(1).default(0.9),
  max_escalation_rate: z.number().min(0).max(1).default(0.35),
  max_latency_p99_ms: z.int().min(1).max(600_000).default(20_000),
});
export type QualificationThresholds = z.infer<typeof QualificationThresholds>;
export const DEFAULT_QUALIFICATION_THRESHOLDS: QualificationThresholds =
  QualificationThresholds.parse({});

/**
 * The incident pipeline (control-plane/README.md, "Incident pipeline"). Without `llm` every
 * incident that no control-plane L1 rule answers goes to a human (L3). The API key is read from
 * a file or an environment variable named here, never from this file, and is never logged.
 */
export const PlannerConfig = z.strictObject({
  llm: z
    .strictObject({
      base_url: z
        .url({ protocol: /^https?$/, error: "use an http(s):// URL ending in /v1" })
        .superRefine((url, ctx) => {
          const problem = modelUrlProblem(url);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      model: z.string().min(1).max(128),
      api_key_file: z.string().min(1).optional(),
      api_key_env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, "use an environment variable name such as OPENAI_API_KEY")
        .optional(),
      timeout_ms: z.int().min(100).max(120_000).default(20_000),
      max_retries: z.int().min(0).max(5).default(1),
      max_tokens: z.int().min(16).max(4096).default(300),
      /** A larger answer is cut off and fails: no model server can fill the control plane's memory. */
      max_response_bytes: z
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(256 * 1024),
      /** Where to start: servers that refuse json_schema fall back to json_object, then to text. */
      response_format: z.enum(["json_schema", "json_object", "text"]).default("json_schema"),
      extra_body: ModelExtraBody.default({}),
      /** After `failures` failed calls in a row the model is not called for `cooldown_ms`. */
      circuit_breaker: z
        .strictObject({
          failures: z.int().min(1).max(1000).default(5),
          cooldown_ms: z.int().min(100).max(3_600_000).default(60_000),
        })
        .default({ failures: 5, cooldown_ms: 60_000 }),
      /**
       * L2 orders nothing until a signed qualification report for this model on this server
       * meets these thresholds (`control-plane planner qualify`); left out, the defaults apply.
       */
      qualification: QualificationThresholds.prefault({}),
    })
    .refine((l) => !(l.api_key_file && l.api_key_env), "give api_key_file or api_key_env, not both")
    .optional(),
  /** Incidents planned at once by one instance (each may wait seconds on the model). */
  concurrency: z.int().min(1).max(256).default(4),
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

/**
 * Operator sign-in: the roles whose local accounts need a TOTP code (an account that enrolled
 * one always needs it), how long a session may sit idle, and its longest life from sign-in.
 */
export const SignInConfig = z.strictObject({
  mfa_required_for: z.array(z.enum(ROLES)).max(ROLES.length).default(["admin"]),
  session_idle_minutes: z
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
  session_max_hours: z
    .int()
    .min(1)
    .max(30 * 24)
    .default(8),
  totp_issuer: z
    .string()
    .regex(/^[\w .-]{1,64}$/, "letters, digits, spaces, '.', '_' or '-'")
    .default("MSP Compliance"),
});
export type SignInConfig = z.infer<typeof SignInConfig>;

export const signInSettings = (c: SignInConfig): SignInSettings => ({
  mfaRequiredFor: c.mfa_required_for,
  session: { idleMs: c.session_idle_minutes * 60_000, maxMs: c.session_max_hours * 3_600_000 },
  totpIssuer: c.totp_issuer,
});

/**
 * Changes that widen what automation may do wait for a second operator's approval: promoting a
 * flywheel proposal to an L1 rule, taking a site out of audit-only (enforce), lifting the kill
 * switch. Each is on unless turned off here; a request not approved within `expiry_hours`
 * never applies.
 */
export const TwoPersonRuleConfig = z.strictObject({
  promote_rule: z.boolean().default(true),
  enforce_healing: z.boolean().default(true),
  lift_kill_switch: z.boolean().default(true),
  expiry_hours: z
    .int()
    .min(1)
    .max(30 * 24)
    .default(24),
});
export type TwoPersonRuleConfig = z.infer<typeof TwoPersonRuleConfig>;

export const twoPersonSettings = (c: TwoPersonRuleConfig): TwoPersonSettings => ({
  actions: {
    promote_rule: c.promote_rule,
    enforce_healing: c.enforce_healing,
    lift_kill_switch: c.lift_kill_switch,
  },
  expiryMs: c.expiry_hours * 3_600_000,
});

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
  /**
   * `/metrics` needs a bearer token: this file's token (one line, 16-256 characters; only its
   * SHA-256 is kept) for the Prometheus scrape, or an admin token.
   */
  metrics: z.strictObject({ scrape_token_file: z.string().min(1).optional() }).default({}),
  /** Folder holding baseline/ and runbooks/; default: the catalog shipped beside this code. */
  catalog_dir: z.string().min(1).optional(),
  planner: PlannerConfig.default(PlannerConfig.parse({})),
  vault: VaultConfig.default(VaultConfig.parse({})),
  sign_in: SignInConfig.default(SignInConfig.parse({})),
  two_person_rule: TwoPersonRuleConfig.default(TwoPersonRuleConfig.parse({})),
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
