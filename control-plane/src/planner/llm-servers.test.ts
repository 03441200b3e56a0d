import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Catalog, loadCatalog } from "#catalog";
import { PlannerConfig } from "../config.ts";
import {
  choose,
  type ModelServer,
  startModelServer,
  unitFailedIncident,
} from "../testing/model-server.ts";
import { matchingRunbooks } from "./candidates.ts";
import { createLlmPlanner, type LlmConfig } from "./llm.ts";
import { plannerInput } from "./prompt.ts";

/**
 * The planner against what real OpenAI-compatible servers answer (fixtures written from their
 * documentation, served by a real local HTTP server), and against servers that misbehave.
 */
let catalog: Catalog;
let server: ModelServer;

beforeAll(async () => {
  catalog = await loadCatalog(fileURLToPath(new URL("../../..", import.meta.url)));
  server = await startModelServer();
});
afterAll(() => server.close());

const incident = () => unitFailedIncident();

const planner = (overrides: Partial<LlmConfig> = {}, now?: () => number) =>
  createLlmPlanner(
    {
      baseUrl: server.baseUrl,
      model: "local-test-model",
      apiKey: "sk-test",
      timeoutMs: 2000,
      maxRetries: 1,
      maxTokens: 200,
      ...overrides,
    },
    { sleep: async () => {}, ...(now ? { now } : {}) },
  );

async function run(p = planner()) {
  const i = incident();
  const before = server.requests.length;
  const outcome = await p.choose(plannerInput(i, []), matchingRunbooks(catalog, i, "L2"));
  return { outcome, requests: server.requests.slice(before) };
}

interface Fixture {
  server: string;
  cases: {
    name: string;
    source: string;
    replies: Partial<
      Record<"json_schema" | "json_object" | "text", { status: number; body: unknown }>
    >;
    expect: {
      kind: string;
      code?: string;
      failure?: string;
      modes: string[];
      prompt_tokens?: number;
    };
  }[];
}
const dir = fileURLToPath(new URL("./fixtures/model-servers/", import.meta.url));
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`${dir}${f}`, "utf8")) as Fixture);
const ANSWER = JSON.stringify(
  JSON.stringify({ runbook_id: "RB-SERVICE-001-crash", confidence: 0.8, rationale: "it failed" }),
);

describe.each(fixtures.map((f) => [f.server, f] as const))("replaying %s", (_name, fixture) => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s", async (_case, c) => {
    server.answer = (r) => {
      const mode = (r.body.response_format?.type ?? "text") as keyof typeof c.replies;
      const reply = c.replies[mode];
      if (!reply) return { status: 599, error: `the fixture has no reply for ${mode}` };
      const body = JSON.stringify(reply.body).replaceAll("{{ANSWER}}", ANSWER.slice(1, -1));
      return { raw: { status: reply.status, body } };
    };
    const { outcome, requests } = await run();
    expect(requests.map((r) => r.body.response_format?.type ?? "text")).toEqual(c.expect.modes);
    expect(outcome.kind).toBe(c.expect.kind);
    if (outcome.kind === "choice") expect(outcome.runbookId).toBe("RB-SERVICE-001-crash");
    if (outcome.kind === "failed") {
      expect(outcome.code).toBe(c.expect.code);
      expect(outcome.usage.failure_code).toBe(c.expect.code);
      if (c.expect.failure) expect(outcome.failure).toBe(c.expect.failure);
    }
    if (c.expect.prompt_tokens) expect(outcome.usage.prompt_tokens).toBe(c.expect.prompt_tokens);
    // Without response_format the schema travels in the instructions.
    for (const r of requests.filter((r) => r.body.response_format?.type !== "json_schema")) {
      expect(r.body.messages[0]?.content).toContain('"required":["runbook_id","confidence"');
    }
  });
});

const sound = JSON.parse(ANSWER) as string;

describe("a model server that misbehaves", () => {
  it("cuts off a 100 MB answer at the cap and hangs up", async () => {
    server.answer = () => ({ flood: { bytes: 100 * 1024 * 1024 } });
    const started = performance.now();
    const { outcome } = await run(planner({ maxResponseBytes: 64 * 1024 }));
    expect(outcome).toMatchObject({ kind: "failed", code: "too_large" });
    if (outcome.kind === "failed") expect(outcome.failure).toMatch(/exceeds 65536 bytes/);
    expect(outcome.usage.attempts).toBe(1);
    expect(performance.now() - started).toBeLessThan(1500);
    await expect.poll(() => server.flooded.at(-1)).toBe(true);
  });

  it("refuses a declared Content-Length over the cap, and an oversized error body", async () => {
    const big = "x".repeat(300 * 1024);
    server.answer = () => ({ raw: { status: 200, body: JSON.stringify({ pad: big }) } });
    expect((await run()).outcome).toMatchObject({ code: "too_large" });
    server.answer = () => ({
      raw: { status: 500, body: JSON.stringify({ error: { message: big } }) },
    });
    const { outcome, requests } = await run();
    expect(outcome).toMatchObject({ code: "too_large" });
    expect(requests.length).toBe(1);
  });

  it.each([
    ["an empty object", "{}", "no_answer"],
    ["choices that is not a list", '{"choices": 3}', "no_answer"],
    ["a null message", '{"choices": [{"message": null, "finish_reason": "stop"}]}', "no_answer"],
    ["not JSON at all", "<html>bad gateway</html>", "not_json"],
  ])("fails cleanly on %s (nothing thrown)", async (_name, body, code) => {
    server.answer = () => ({ raw: { status: 200, body } });
    const { outcome } = await run();
    expect(outcome).toMatchObject({ kind: "failed" });
    if (outcome.kind === "failed" && code !== "not_json") expect(outcome.code).toBe(code);
  });

  it.each([
    ["finish_reason length", { finish_reason: "length" }, "truncated"],
    ["finish_reason tool_calls", { finish_reason: "tool_calls" }, "tool_call"],
    [
      "tool_calls with finish_reason stop",
      { message: { tool_calls: [{ id: "c1" }] } },
      "tool_call",
    ],
    ["finish_reason content_filter", { finish_reason: "content_filter" }, "refused"],
  ])("reads %s as a failure of its own", async (_name, extra, code) => {
    server.answer = () => ({ content: sound, ...extra });
    const { outcome } = await run();
    expect(outcome).toMatchObject({ kind: "failed", code });
    if (code === "truncated") expect(outcome.usage.failure).toMatch(/^truncated/);
  });

  it.each([
    ["a fractional count", { prompt_tokens: 1.5, completion_tokens: 17 }],
    ["a negative count", { prompt_tokens: -4, completion_tokens: 17 }],
    ["a count beyond safe integers", { prompt_tokens: 2 ** 60, completion_tokens: 17 }],
    ["a count as a string", { prompt_tokens: "12", completion_tokens: 17 }],
    ["no prompt_tokens", { completion_tokens: 17 }],
  ])("drops %s from the usage it records", async (_name, usage) => {
    server.answer = () => ({ content: sound, usage });
    const { outcome } = await run();
    expect(outcome.kind).toBe("choice");
    expect(outcome.usage.prompt_tokens).toBeUndefined();
    expect(outcome.usage.completion_tokens).toBe(17);
  });

  it("keeps a rationale cut at a surrogate pair well-formed", async () => {
    const rationale = `${"a".repeat(499)}😀 and more`;
    server.answer = () => choose("RB-SERVICE-001-crash", 0.9, rationale);
    const { outcome } = await run();
    expect(outcome.kind).toBe("choice");
    if (outcome.kind === "choice") {
      expect(outcome.rationale).toBe("a".repeat(499));
      expect(outcome.rationale.isWellFormed()).toBe(true);
    }
    server.answer = () => choose("RB-SERVICE-001-crash", 0.9, "lone \ud800 surrogate");
    const lone = await run();
    if (lone.outcome.kind === "choice") expect(lone.outcome.rationale.isWellFormed()).toBe(true);
  });

  it("sends the configured extra fields, which cannot replace the request's own", async () => {
    server.answer = () => choose("escalate");
    const extraBody = PlannerConfig.parse({
      llm: {
        base_url: server.baseUrl,
        model: "m",
        extra_body: {
          chat_template_kwargs: { enable_thinking: false },
          keep_alive: "10m",
          seed: 7,
        },
      },
    }).llm?.extra_body;
    const { requests } = await run(planner({ extraBody }));
    expect(requests[0]?.body).toMatchObject({
      chat_template_kwargs: { enable_thinking: false },
      keep_alive: "10m",
      seed: 7,
      model: "local-test-model",
      max_tokens: 200,
    });
    for (const field of ["model", "messages", "response_format", "max_tokens", "stream"]) {
      const bad = PlannerConfig.safeParse({
        llm: { base_url: server.baseUrl, model: "m", extra_body: { [field]: "x" } },
      });
      expect(bad.success, field).toBe(false);
    }
  });

  it("opens the circuit after N failures in a row, probes after the cool-down, closes on success", async () => {
    let clock = 0;
    const p = planner(
      { maxRetries: 0, circuitBreaker: { failures: 2, cooldownMs: 1000 } },
      () => clock,
    );
    server.answer = () => ({ status: 503, error: "overloaded" });
    await run(p);
    await run(p);
    expect(p.status().circuit).toBe("open");
    const refused = await run(p);
    expect(refused.requests.length).toBe(0);
    expect(refused.outcome).toMatchObject({ kind: "failed", code: "unavailable" });
    if (refused.outcome.kind === "failed")
      expect(refused.outcome.failure).toMatch(/^model unavailable/);
    clock = 1000;
    const probe = await run(p);
    expect(probe.requests.length).toBe(1);
    expect(p.status().circuit).toBe("open");
    expect((await run(p)).requests.length).toBe(0);
    clock = 2000;
    server.answer = () => choose("RB-SERVICE-001-crash");
    expect((await run(p)).outcome.kind).toBe("choice");
    expect(p.status().circuit).toBe("closed");
  });

  it("keeps the mode that worked for the next calls", async () => {
    server.answer = (r) =>
      r.body.response_format?.type === "json_schema"
        ? { status: 400, error: "json_schema is not supported" }
        : choose("RB-SERVICE-001-crash");
    const p = planner();
    expect((await run(p)).requests.length).toBe(2);
    const second = await run(p);
    expect(second.requests.map((r) => r.body.response_format?.type)).toEqual(["json_object"]);
    expect(p.status().responseFormat).toBe("json_object");
  });
});

describe("the model URL", () => {
  it.each([
    ["http://10.0.0.5:8000/v1", false],
    ["http://model.internal/v1", false],
    ["http://127.0.0.1:11434/v1", true],
    ["http://localhost:8080/v1", true],
    ["http://[::1]:8000/v1", true],
    ["https://models.example.net/v1", true],
  ])("%s is accepted: %s", (url, ok) => {
    const parsed = PlannerConfig.safeParse({ llm: { base_url: url, model: "m" } });
    expect(parsed.success).toBe(ok);
    if (!parsed.success) {
      expect(parsed.error.issues[0]?.path).toEqual(["llm", "base_url"]);
      expect(parsed.error.issues[0]?.message).toMatch(/https/);
      expect(() => planner({ baseUrl: url })).toThrow(/planner\.llm\.base_url: use https/);
    }
  });
});
