import { fileURLToPath } from "node:url";
import { loadCatalog } from "#catalog";
import { readText } from "../cli/files.ts";
import type { PlannerConfig } from "../config.ts";
import { ControlPlaneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { PlannerDeps } from "./index.ts";
import { createLlmPlanner, type LlmConfig } from "./llm.ts";
import { createWebhook } from "./webhook.ts";

/** The catalog shipped beside this code (the repository root, or the deployed bundle's). */
export const DEFAULT_CATALOG_DIR = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Builds the planner's dependencies from the config (called by main.ts only): the catalog,
 * the L2 client with its key read from a file or the environment, the signed webhook.
 */
export async function plannerDeps(
  config: PlannerConfig,
  catalogDir: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<PlannerDeps> {
  const catalog = await plannerCatalog(catalogDir);
  const llm = config.llm;
  const apiKey = llm ? llmApiKey(llm, env) : "";
  const secret = config.webhook
    ? readText(config.webhook.secret_file, "webhook secret file").trim()
    : "";
  if (config.webhook && secret.length < 32) {
    throw new ControlPlaneError(
      "invalid_config",
      "planner.webhook.secret_file: the secret must have at least 32 characters",
    );
  }
  return {
    catalog,
    ...(llm
      ? {
          llm: createLlmPlanner(llmConfig(llm, apiKey)),
        }
      : {}),
    ...(config.webhook
      ? {
          webhook: createWebhook(
            {
              url: config.webhook.url,
              secret,
              timeoutMs: config.webhook.timeout_ms,
              attempts: config.webhook.attempts,
            },
            logger,
          ),
        }
      : {}),
    concurrency: config.concurrency,
    settings: {
      blastRadiusPerHour: config.blast_radius_per_hour,
      flywheelMinSuccesses: config.flywheel_min_successes,
      orderTtlS: config.order_ttl_s,
      killSwitchForced: config.kill_switch,
      ...(llm ? { qualification: llm.qualification } : {}),
    },
  };
}

type LlmSection = NonNullable<PlannerConfig["llm"]>;

/** The model server's API key, from the file or the environment variable the config names. */
export function llmApiKey(llm: LlmSection, env: Readonly<Record<string, string | undefined>>) {
  if (llm.api_key_file) return readText(llm.api_key_file, "LLM API key file").trim();
  if (!llm.api_key_env) return "";
  const key = env[llm.api_key_env] ?? "";
  if (!key) {
    throw new ControlPlaneError(
      "invalid_config",
      `planner.llm.api_key_env: ${llm.api_key_env} is not set`,
    );
  }
  return key;
}

/** The L2 client's settings from the config section (one mapping for serve and qualify). */
export function llmConfig(llm: LlmSection, apiKey: string): LlmConfig {
  return {
    baseUrl: llm.base_url,
    model: llm.model,
    // Local OpenAI-compatible servers often need no key; the SDK needs a non-empty one.
    apiKey: apiKey || "no-key-configured",
    timeoutMs: llm.timeout_ms,
    maxRetries: llm.max_retries,
    maxTokens: llm.max_tokens,
    maxResponseBytes: llm.max_response_bytes,
    responseFormat: llm.response_format,
    extraBody: llm.extra_body,
    circuitBreaker: {
      failures: llm.circuit_breaker.failures,
      cooldownMs: llm.circuit_breaker.cooldown_ms,
    },
  };
}

/** The catalog the planner works from (the configured folder, or the shipped one). */
export function plannerCatalog(catalogDir: string | undefined) {
  return loadCatalog(catalogDir ?? DEFAULT_CATALOG_DIR).catch((cause: unknown) => {
    throw new ControlPlaneError(
      "invalid_config",
      `catalog_dir: the runbook catalog does not load: ${(cause as Error).message}`,
      { cause },
    );
  });
}
