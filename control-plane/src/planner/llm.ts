import OpenAI from "openai";
import {
  backoffDelay,
  canonicalBytes,
  type L2FailureCode,
  type LlmUsage,
  sha256Hex,
} from "#protocol";
import { type ModelExtraBody, modelUrlProblem } from "../config.ts";
import { type CircuitState, circuitBreaker } from "./circuit-breaker.ts";
import { readCompletion, tokenCounts, wellFormedPrefix } from "./llm-answer.ts";
import { cappedFetch, ResponseTooLarge, TOO_LARGE } from "./llm-fetch.ts";
import { choiceSchema, ESCALATE, type PlannerInput, systemMessage, userMessage } from "./prompt.ts";
import type { Runbook } from "./types.ts";

/**
 * The L2 planner: one chat completion through the openai SDK against any OpenAI-compatible
 * server, its answer constrained to one candidate runbook id or "escalate". The answer is read
 * strictly (llm-answer.ts); anything else (refusal, malformed or truncated JSON, a tool call, an
 * id outside the candidates, a timeout, an oversized body, an error after the bounded retries)
 * is a failure with a closed code, and the caller sends the incident to L3. A server that refuses
 * `json_schema` is asked again with `json_object`, then with plain text (the schema then travels
 * in the instructions), and the mode that worked is kept. A circuit breaker stops calling a
 * server that keeps failing. The API key is never logged or recorded.
 */
export interface LlmConfig {
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey: string;
  /** Per request, body included. */
  readonly timeoutMs: number;
  /** Retries after the first attempt, for timeouts, connection errors, 408, 429 and 5xx only. */
  readonly maxRetries: number;
  readonly maxTokens: number;
  /** Default 256 KiB. */
  readonly maxResponseBytes?: number;
  /** The first mode tried; default json_schema. */
  readonly responseFormat?: ResponseMode;
  readonly extraBody?: ModelExtraBody;
  /** Default: opens after 5 failures in a row, probes after 60 s. */
  readonly circuitBreaker?: { readonly failures: number; readonly cooldownMs: number };
}

export type ResponseMode = "json_schema" | "json_object" | "text";
const MODES: readonly ResponseMode[] = ["json_schema", "json_object", "text"];

export type LlmOutcome =
  | {
      readonly kind: "choice";
      readonly runbookId: string;
      readonly confidence: number;
      readonly rationale: string;
      readonly usage: LlmUsage;
    }
  | { readonly kind: "escalate"; readonly rationale: string; readonly usage: LlmUsage }
  | {
      readonly kind: "failed";
      readonly code: L2FailureCode;
      readonly failure: string;
      readonly usage: LlmUsage;
    };

export interface LlmPlanner {
  /** The model server's base URL and the model, as configured (a qualification is bound to both). */
  readonly baseUrl: string;
  readonly model: string;
  choose(input: PlannerInput, candidates: readonly Runbook[]): Promise<LlmOutcome>;
  /** The circuit breaker's state and the response mode in use (health, tests). */
  status(): { circuit: CircuitState; responseFormat: ResponseMode };
}

const FAILURE_MAX = 300;

export function createLlmPlanner(
  config: LlmConfig,
  options: { sleep?: (ms: number) => Promise<void>; now?: () => number } = {},
): LlmPlanner {
  const urlProblem = modelUrlProblem(config.baseUrl);
  if (urlProblem) throw new Error(`planner.llm.base_url: ${urlProblem}`);
  const client = new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseUrl,
    timeout: config.timeoutMs,
    fetch: cappedFetch(config.maxResponseBytes ?? 256 * 1024, config.timeoutMs),
    // Retries are ours (below), so every attempt is counted and only transient errors retry.
    maxRetries: 0,
    // Only this config decides what is sent and logged: no OPENAI_* environment fallbacks
    // (organization, project headers) and no SDK logging (OPENAI_LOG=debug logs requests).
    organization: null,
    project: null,
    logLevel: "off",
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const breaker = circuitBreaker({
    threshold: config.circuitBreaker?.failures ?? 5,
    cooldownMs: config.circuitBreaker?.cooldownMs ?? 60_000,
    ...(options.now ? { now: options.now } : {}),
  });
  let mode = MODES.indexOf(config.responseFormat ?? "json_schema");

  const requestBody = (m: ResponseMode, input: PlannerInput, candidates: readonly Runbook[]) => {
    const schema = choiceSchema(candidates.map((r) => r.id));
    const system =
      m === "json_schema"
        ? systemMessage(candidates)
        : `${systemMessage(candidates)}\n\nAnswer with one JSON object and nothing else, matching this JSON Schema:\n${JSON.stringify(schema)}`;
    return {
      ...config.extraBody,
      model: config.model,
      temperature: 0,
      max_tokens: config.maxTokens,
      messages: [
        { role: "system" as const, content: system },
        { role: "user" as const, content: userMessage(input) },
      ],
      ...(m === "json_schema"
        ? {
            response_format: {
              type: "json_schema" as const,
              json_schema: { name: "runbook_choice", strict: true, schema },
            },
          }
        : m === "json_object"
          ? { response_format: { type: "json_object" as const } }
          : {}),
    };
  };

  async function call(input: PlannerInput, candidates: readonly Runbook[]): Promise<LlmOutcome> {
    const ids = candidates.map((r) => r.id);
    const started = performance.now();
    let body = requestBody(MODES[mode] as ResponseMode, input, candidates);
    let attempts = 0;
    const usage = (extra: Partial<LlmUsage>): LlmUsage => ({
      model: config.model,
      latency_ms: Math.round((performance.now() - started) * 10) / 10,
      attempts,
      request_hash: sha256Hex(canonicalBytes(body)),
      ...extra,
    });
    const fail = (code: L2FailureCode, failure: string, extra: Partial<LlmUsage> = {}) => {
      const text = wellFormedPrefix(failure, FAILURE_MAX);
      return {
        kind: "failed" as const,
        code,
        failure: text,
        usage: usage({ ...extra, failure: text, failure_code: code }),
      };
    };

    if (breaker.admit() === "refuse") {
      return fail(
        "unavailable",
        `model unavailable: ${breaker.consecutiveFailures} failed calls in a row opened the circuit; the next call is a probe after the cool-down`,
      );
    }

    let retries = 0;
    for (;;) {
      attempts++;
      let completion: unknown;
      try {
        completion = await client.chat.completions.create(
          body as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
        );
      } catch (error) {
        const failure = classify(error, config.apiKey);
        if (failure.formatRefused && mode < MODES.length - 1) {
          // The server does not take this response format: the next one, for this and later calls.
          mode++;
          body = requestBody(MODES[mode] as ResponseMode, input, candidates);
          continue;
        }
        if (failure.transient && retries < config.maxRetries) {
          await sleep(backoffDelay(retries++, 200, 2000));
          continue;
        }
        // Every mode refused with a message about the format: say so; otherwise the status.
        const code =
          failure.formatRefused && FORMAT_WORDS.test(failure.text)
            ? "format_refused"
            : failure.code;
        return fail(code, failure.text);
      }
      const tokens = tokenCounts((completion as { usage?: unknown } | null)?.usage);
      const read = readCompletion(completion, ids);
      if (!read.ok) return fail(read.code, read.failure, { ...tokens, ...read.answer });
      const fields = {
        ...tokens,
        choice: read.runbookId,
        confidence: read.confidence,
        rationale: read.rationale,
      };
      if (read.runbookId === ESCALATE) {
        return { kind: "escalate", rationale: read.rationale, usage: usage(fields) };
      }
      return {
        kind: "choice",
        runbookId: read.runbookId,
        confidence: read.confidence,
        rationale: read.rationale,
        usage: usage(fields),
      };
    }
  }

  return {
    baseUrl: config.baseUrl,
    model: config.model,
    status: () => ({ circuit: breaker.state(), responseFormat: MODES[mode] as ResponseMode }),
    async choose(input, candidates) {
      const outcome = await call(input, candidates);
      if (outcome.kind !== "failed") breaker.success();
      else if (outcome.code !== "unavailable") breaker.failure();
      return outcome;
    },
  };
}

interface Classified {
  readonly code: L2FailureCode;
  readonly text: string;
  readonly transient: boolean;
  /** The server says it does not take the response format asked for. */
  readonly formatRefused: boolean;
}

const FORMAT_WORDS = /response_format|json_schema|json_object|grammar|schema|guided/i;

function classify(error: unknown, apiKey: string): Classified {
  const chain: unknown[] = [];
  for (let e: unknown = error; e && chain.length < 5; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
  }
  const named = (name: string) => chain.some((e) => (e as { name?: unknown }).name === name);
  if (
    chain.some(
      (e) =>
        e instanceof ResponseTooLarge || String((e as Error)?.message ?? "").includes(TOO_LARGE),
    )
  ) {
    const limit = chain.find((e) => e instanceof ResponseTooLarge) as ResponseTooLarge | undefined;
    const text = limit ? limit.message : `${TOO_LARGE} the configured limit`;
    return { code: "too_large", text, transient: false, formatRefused: false };
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError || named("TimeoutError")) {
    return { code: "timeout", text: "the model timed out", transient: true, formatRefused: false };
  }
  if (error instanceof OpenAI.APIConnectionError) {
    const text = "could not reach the model server";
    return { code: "unreachable", text, transient: true, formatRefused: false };
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const status = error.status;
    const message = serverMessage(error, apiKey);
    const formatRefused =
      status === 400 || status === 422 || (status >= 500 && FORMAT_WORDS.test(message));
    return {
      code: "server_error",
      text: `the model server answered ${status}${message ? `: ${message}` : ""}`,
      transient: !formatRefused && (status === 408 || status === 429 || status >= 500),
      formatRefused,
    };
  }
  return {
    code: "unreachable",
    text: "the model call failed",
    transient: false,
    formatRefused: false,
  };
}

/**
 * The server's own error message (OpenAI's `{"error": {"message"}}` or vLLM's flat
 * `{"message"}`), short, on one line, with the API key removed should a server echo it.
 */
function serverMessage(error: InstanceType<typeof OpenAI.APIError>, apiKey: string): string {
  const body = error.error as { message?: unknown } | string | undefined;
  let message =
    typeof body === "string" ? body : typeof body?.message === "string" ? body.message : "";
  if (apiKey.length >= 4) message = message.split(apiKey).join("[redacted]");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  message = message.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return wellFormedPrefix(message, 200);
}
