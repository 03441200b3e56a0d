import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Incident } from "#protocol";

/**
 * A local OpenAI-compatible chat-completions server for tests and the bench (node:http on
 * loopback). Each request is recorded as received; `answer` decides the reply, so a test can
 * play a sound model, a broken one, a slow one or a gullible one.
 */
export interface ModelRequest {
  readonly headers: IncomingMessage["headers"];
  readonly body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: {
      type: string;
      json_schema?: { name: string; strict?: boolean; schema: unknown };
    };
    [key: string]: unknown;
  };
}

export type ModelReply =
  | {
      readonly content: string;
      readonly refusal?: undefined;
      /** Default "stop". */
      readonly finish_reason?: string;
      /** Default: 321 prompt and 17 completion tokens. */
      readonly usage?: unknown;
      /** Merged into the message (tool_calls, reasoning_content, ...). */
      readonly message?: Record<string, unknown>;
    }
  | {
      readonly refusal: string;
      readonly content?: undefined;
      readonly finish_reason?: undefined;
      readonly usage?: undefined;
      readonly message?: undefined;
    }
  | { readonly status: number; readonly error: string }
  | { readonly delayMs: number; readonly reply: ModelReply }
  /** Exactly this status and body, as a server recorded in a fixture answered. */
  | { readonly raw: { readonly status: number; readonly body: string } }
  /** A 200 whose body never ends: `bytes` of padding, streamed in 64 KiB chunks. */
  | { readonly flood: { readonly bytes: number } };

export interface ModelServer {
  readonly baseUrl: string;
  readonly requests: ModelRequest[];
  /** One entry per flood reply: true when the client hung up before the end. */
  readonly flooded: boolean[];
  answer: (request: ModelRequest) => ModelReply;
  close(): Promise<void>;
}

/** The incident the model tests plan: a failed unit (one L2 candidate, RB-SERVICE-001-crash). */
export function unitFailedIncident(subject = "chronyd.service", message = "unit failed"): Incident {
  return {
    v: 1,
    type: "incident",
    incident_id: randomUUID(),
    tenant_id: "clinic-a",
    appliance_id: "clinic-a-01",
    check_id: "services",
    severity: "high",
    detected_at: "2026-11-25T12:00:00Z",
    findings: [{ code: "unit_failed", subject, expected: "active", observed: "failed", message }],
    evidence: { seq: 7, hash: "a".repeat(64) },
    local_l1: { attempted: false, why_not: "no local rule for this finding" },
  };
}

/** A reply choosing `runbookId` (or "escalate") as a well-behaved model would. */
export const choose = (
  runbookId: string,
  confidence = 0.9,
  rationale = "fits the findings",
): ModelReply => ({
  content: JSON.stringify({ runbook_id: runbookId, confidence, rationale }),
});

/** The enum the request's JSON schema allows for runbook_id. */
export function allowedIds(request: ModelRequest): string[] {
  const schema = request.body.response_format?.json_schema?.schema as
    | { properties: { runbook_id: { enum: string[] } } }
    | undefined;
  return schema?.properties.runbook_id.enum ?? [];
}

export async function startModelServer(
  answer: (request: ModelRequest) => ModelReply = (r) => choose(allowedIds(r)[0] ?? "escalate"),
): Promise<ModelServer> {
  const requests: ModelRequest[] = [];
  const flooded: boolean[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const state: { answer: (request: ModelRequest) => ModelReply } = { answer };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404).end();
      return;
    }
    const request: ModelRequest = {
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
    };
    requests.push(request);
    let reply = state.answer(request);
    while ("delayMs" in reply) {
      const delayed: { delayMs: number; reply: ModelReply } = reply;
      await new Promise((r) => setTimeout(r, delayed.delayMs));
      if (res.destroyed) return;
      reply = delayed.reply;
    }
    if ("raw" in reply) {
      res.writeHead(reply.raw.status, { "content-type": "application/json" });
      res.end(reply.raw.body);
      return;
    }
    if ("flood" in reply) {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, " ");
      res.write('{"choices":[{"message":{"content":"');
      for (let sent = 0; sent < reply.flood.bytes && !res.destroyed; sent += chunk.length) {
        if (res.write(chunk)) continue;
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done).off("close", done);
            resolve();
          };
          res.on("drain", done).on("close", done);
        });
      }
      if (!res.destroyed) res.end('"}}]}');
      flooded.push(res.destroyed);
      return;
    }
    if ("status" in reply) {
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: reply.error, type: "server_error" } }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${requests.length}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: request.body.model,
        choices: [
          {
            index: 0,
            finish_reason: reply.finish_reason ?? "stop",
            logprobs: null,
            message: {
              role: "assistant",
              content: reply.content ?? null,
              refusal: reply.refusal ?? null,
              ...reply.message,
            },
          },
        ],
        usage:
          reply.usage === undefined
            ? { prompt_tokens: 321, completion_tokens: 17, total_tokens: 338 }
            : reply.usage,
      }),
    );
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    flooded,
    get answer() {
      return state.answer;
    },
    set answer(fn) {
      state.answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
