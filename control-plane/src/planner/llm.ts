import OpenAI from "openai";
import { z } from "zod";
import { backoffDelay, canonicalBytes, type LlmUsage, sha256Hex } from "#protocol";
import { choiceSchema, ESCALATE, type PlannerInput, systemMessage, userMessage } from "./prompt.ts";
import type { Runbook } from "./types.ts";

/**
 * The L2 planner: one chat completion through the openai SDK against any OpenAI-compatible
 * server, its answer constrained by a JSON schema to one candidate runbook id or "escalate".
 * The answer is parsed strictly; anything else (refusal, malformed JSON, an id outside the
 * candidates, a timeout, an error after the bounded retries) is a failure, and the caller
 * sends the incident to L3. The API key is never logged or recorded.
 */
export interface LlmConfig {
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey: string;
  /** Per request. */
  readonly timeoutMs: number;
  /** Retries after the first attempt, for timeouts, connection errors, 429 and 5xx only. */
  readonly maxRetries: number;
  readonly maxTokens: number;
}

export type LlmOutcome =
  | {
      readonly kind: "choice";
      readonly runbookId: string;
      readonly confidence: number;
      readonly rationale: string;
      readonly usage: LlmUsage;
    }
  | { readonly kind: "escalate"; readonly rationale: string; readonly usage: LlmUsage }
  | { readonly kind: "failed"; readonly failure: string; readonly usage: LlmUsage };

export interface LlmPlanner {
  readonly model: string;
  choose(input: PlannerInput, candidates: readonly Runbook[]): Promise<LlmOutcome>;
}

const Answer = z.strictObject({
  runbook_id: z.string().max(80),
  confidence: z.number().min(0).max(1),
  rationale: z.string(),
});

const RATIONALE_MAX = 500;

export function createLlmPlanner(
  config: LlmConfig,
  options: { sleep?: (ms: number) => Promise<void> } = {},
): LlmPlanner {
  const client = new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseUrl,
    timeout: config.timeoutMs,
    // Retries are ours (below), so every attempt is counted and only transient errors retry.
    maxRetries: 0,
    // Only this config decides what is sent and logged: no OPENAI_* environment fallbacks
    // (organization, project headers) and no SDK logging (OPENAI_LOG=debug logs requests).
    organization: null,
    project: null,
    logLevel: "off",
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  return {
    model: config.model,
    async choose(input, candidates) {
      const ids = candidates.map((r) => r.id);
      const body = {
        model: config.model,
        temperature: 0,
        max_tokens: config.maxTokens,
        messages: [
          { role: "system" as const, content: systemMessage(candidates) },
          { role: "user" as const, content: userMessage(input) },
        ],
        response_format: {
          type: "json_schema" as const,
          json_schema: { name: "runbook_choice", strict: true, schema: choiceSchema(ids) },
        },
      };
      const started = performance.now();
      const usage = (extra: Partial<LlmUsage>, attempts: number): LlmUsage => ({
        model: config.model,
        latency_ms: Math.round((performance.now() - started) * 10) / 10,
        attempts,
        request_hash: sha256Hex(canonicalBytes(body)),
        ...extra,
      });

      let completion: OpenAI.Chat.Completions.ChatCompletion | undefined;
      let attempts = 0;
      let lastFailure = "";
      while (attempts <= config.maxRetries) {
        attempts++;
        try {
          completion = await client.chat.completions.create(body);
          break;
        } catch (error) {
          lastFailure = describe(error);
          if (!transient(error) || attempts > config.maxRetries) break;
          await sleep(backoffDelay(attempts - 1, 200, 2000));
        }
      }
      if (!completion) {
        return {
          kind: "failed",
          failure: lastFailure,
          usage: usage({ failure: lastFailure }, attempts),
        };
      }

      const tokens = {
        ...(completion.usage ? { prompt_tokens: completion.usage.prompt_tokens } : {}),
        ...(completion.usage ? { completion_tokens: completion.usage.completion_tokens } : {}),
      };
      const fail = (failure: string): LlmOutcome => ({
        kind: "failed",
        failure,
        usage: usage({ ...tokens, failure }, attempts),
      });
      const message = completion.choices[0]?.message;
      if (!message) return fail("no choice in the completion");
      if (message.refusal) return fail("the model refused");
      if (typeof message.content !== "string") return fail("no content in the completion");
      let raw: unknown;
      try {
        raw = JSON.parse(message.content);
      } catch {
        return fail("the answer is not JSON");
      }
      const answer = Answer.safeParse(raw);
      if (!answer.success) return fail("the answer does not match the response schema");
      const { runbook_id, confidence } = answer.data;
      const rationale = answer.data.rationale.slice(0, RATIONALE_MAX);
      const recorded = { ...tokens, choice: runbook_id, confidence, rationale };
      if (runbook_id === ESCALATE) {
        return { kind: "escalate", rationale, usage: usage(recorded, attempts) };
      }
      if (!ids.includes(runbook_id)) {
        // The model's text stays in `choice` (data); the reason that travels is ours alone.
        const failure = "the model chose a runbook outside the candidates";
        return { kind: "failed", failure, usage: usage({ ...recorded, failure }, attempts) };
      }
      return {
        kind: "choice",
        runbookId: runbook_id,
        confidence,
        rationale,
        usage: usage(recorded, attempts),
      };
    },
  };
}

function transient(error: unknown): boolean {
  if (error instanceof OpenAI.APIConnectionError) return true; // includes timeouts
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    return error.status === 408 || error.status === 429 || error.status >= 500;
  }
  return false;
}

/** A short, key-free description: the SDK's error class and status, never its message. */
function describe(error: unknown): string {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return "the model timed out";
  if (error instanceof OpenAI.APIConnectionError) return "could not reach the model server";
  if (error instanceof OpenAI.APIError) return `the model server answered ${error.status ?? "?"}`;
  return "the model call failed";
}
