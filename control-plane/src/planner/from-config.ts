import { fileURLToPath } from "node:url";
import { loadCatalog } from "#catalog";
import { readText } from "../cli/files.ts";
import type { PlannerConfig } from "../config.ts";
import { ControlPlaneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { PlannerDeps } from "./index.ts";
import { createLlmPlanner } from "./llm.ts";
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
  const catalog = await loadCatalog(catalogDir ?? DEFAULT_CATALOG_DIR).catch((cause: unknown) => {
    throw new ControlPlaneError(
      "invalid_config",
      `catalog_dir: the runbook catalog does not load: ${(cause as Error).message}`,
      { cause },
    );
  });
  const llm = config.llm;
  let apiKey = "";
  if (llm?.api_key_file) apiKey = readText(llm.api_key_file, "LLM API key file").trim();
  else if (llm?.api_key_env) {
    apiKey = env[llm.api_key_env] ?? "";
    if (!apiKey)
      throw new ControlPlaneError(
        "invalid_config",
        `planner.llm.api_key_env: ${llm.api_key_env} is not set`,
      );
  }
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
          llm: createLlmPlanner({
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
          }),
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
    },
  };
}
