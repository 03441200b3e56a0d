import { z } from "zod";
import type { L2FailureCode } from "#protocol";
import { ESCALATE } from "./prompt.ts";

/**
 * Reading a chat completion from a server that may not be what it claims: nothing in it is
 * trusted. The completion is checked loosely for shape (servers add their own fields), then the
 * answer strictly: one JSON object, optionally inside one ``` fence and after <think> blocks,
 * matching the answer's schema exactly. Counts the server reports are kept only when they are
 * non-negative safe integers.
 */
export const Answer = z.strictObject({
  runbook_id: z.string().max(80),
  confidence: z.number().min(0).max(1),
  rationale: z.string(),
});

export const RATIONALE_MAX = 500;

const Completion = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        finish_reason: z.string().nullish(),
        message: z
          .looseObject({
            content: z.string().nullish(),
            refusal: z.string().nullish(),
            tool_calls: z.array(z.unknown()).nullish(),
            function_call: z.unknown().nullish(),
          })
          .nullish(),
      }),
    )
    .min(1),
});

export type Reading =
  | { readonly ok: true; readonly runbookId: string; confidence: number; rationale: string }
  | {
      readonly ok: false;
      readonly code: L2FailureCode;
      readonly failure: string;
      /** A well-formed answer naming a runbook that was not offered: kept as data. */
      readonly answer?: { choice: string; confidence: number; rationale: string };
    };

const failed = (code: L2FailureCode, failure: string): Reading => ({ ok: false, code, failure });

/** The token counts of `usage`, each only if it is a non-negative safe integer. */
export function tokenCounts(usage: unknown): {
  prompt_tokens?: number;
  completion_tokens?: number;
} {
  if (typeof usage !== "object" || usage === null) return {};
  const out: { prompt_tokens?: number; completion_tokens?: number } = {};
  for (const key of ["prompt_tokens", "completion_tokens"] as const) {
    const value = (usage as Record<string, unknown>)[key];
    if (Number.isSafeInteger(value) && (value as number) >= 0) out[key] = value as number;
  }
  return out;
}

/** At most `max` UTF-16 units, never ending inside a surrogate pair, no lone surrogates. */
export function wellFormedPrefix(text: string, max: number): string {
  let cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (cut.length === max && last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut.toWellFormed();
}

/**
 * The JSON text of the answer: `<think>…</think>` blocks (reasoning models) removed, then either
 * the whole rest or the inside of one ``` / ```json fence around all of it. Nothing is searched
 * for inside prose: an answer with text around the JSON is not an answer.
 */
export function extractJson(content: string): string | undefined {
  let text = content.replace(/<think>[\s\S]*?<\/think>/g, "").trim();
  if (text.includes("<think>") || text.includes("</think>")) return undefined;
  const fenced = /^```(?:json)?[ \t]*\r?\n([\s\S]*?)\r?\n?```$/.exec(text);
  if (fenced) text = (fenced[1] ?? "").trim();
  return text.startsWith("{") && text.endsWith("}") ? text : undefined;
}

export function readCompletion(completion: unknown, candidateIds: readonly string[]): Reading {
  const parsed = Completion.safeParse(completion);
  if (!parsed.success) return failed("no_answer", "no choice in the completion");
  const choice = parsed.data.choices[0];
  const message = choice?.message;
  if ((message?.tool_calls?.length ?? 0) > 0 || message?.function_call) {
    return failed("tool_call", "the model answered with a tool call, not the JSON answer");
  }
  switch (choice?.finish_reason) {
    case "length":
      return failed("truncated", "truncated: the answer stopped at max_tokens");
    case "tool_calls":
    case "function_call":
      return failed("tool_call", "the model answered with a tool call, not the JSON answer");
    case "content_filter":
      return failed("refused", "the server's content filter stopped the answer");
  }
  if (message?.refusal) return failed("refused", "the model refused");
  if (typeof message?.content !== "string")
    return failed("no_answer", "no content in the completion");
  const json = extractJson(message.content);
  let raw: unknown;
  try {
    if (json === undefined) throw new Error("no JSON object");
    raw = JSON.parse(json);
  } catch {
    return failed("not_json", "the answer is not JSON");
  }
  const answer = Answer.safeParse(raw);
  if (!answer.success) {
    return failed("schema", "the answer does not match the response schema");
  }
  const { runbook_id, confidence } = answer.data;
  const rationale = wellFormedPrefix(answer.data.rationale, RATIONALE_MAX);
  const runbookId = runbook_id.toWellFormed();
  if (runbookId !== ESCALATE && !candidateIds.includes(runbookId)) {
    // Reported with the id kept as data by the caller; the reason that travels is ours alone.
    return {
      ok: false,
      code: "outside_candidates",
      failure: "the model chose a runbook outside the candidates",
      answer: { choice: runbookId, confidence, rationale },
    };
  }
  return { ok: true, runbookId, confidence, rationale };
}
