import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Catalog, loadCatalog } from "#catalog";
import {
  parseMessage,
  privateKeyFromPem,
  publicKeyOf,
  QualificationReport,
  verificationKey,
  verifyDocument,
} from "#protocol";
import { dataDirLayout, QualificationThresholds } from "../config.ts";
import { openSqliteStore } from "../store/index.ts";
import {
  allowedIds,
  choose,
  type ModelReply,
  type ModelRequest,
  type ModelServer,
  startModelServer,
} from "../testing/model-server.ts";
import { REPO_ROOT } from "../testing/planner-world.ts";
import { perfectModel } from "../testing/qualified-model.ts";
import { createLlmPlanner } from "./llm.ts";
import { qualifyModel, summarize, type UnsignedQualification } from "./qualify.ts";

/**
 * `planner qualify` against three model behaviours on a local OpenAI-compatible server: a
 * perfect model (answers every label), a random one (any offered id) and an adversarial one
 * (never escalates, prefers what it was not offered).
 */
let catalog: Catalog;
let server: ModelServer;
const dir = mkdtempSync(join(tmpdir(), "cp-qualify-"));
const THRESHOLDS = QualificationThresholds.parse({});
const reports: Record<string, UnsignedQualification> = {};

beforeAll(async () => {
  catalog = await loadCatalog(REPO_ROOT);
  server = await startModelServer();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  for (const [name, r] of Object.entries(reports)) console.log(`${name}:\n${summarize(r)}`);
});

const MODELS: Record<string, (r: ModelRequest) => ModelReply> = {
  perfect: (r) => perfectModel(catalog)(r),
  random: (() => {
    let seed = 20261203;
    return (r: ModelRequest) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const ids = allowedIds(r);
      return choose(ids[Math.floor(seed / 65536) % ids.length] ?? "escalate", 0.5, "a guess");
    };
  })(),
  adversarial: (r) => {
    const offered = allowedIds(r).filter((id) => id !== "escalate");
    // Never escalates; a disruptive runbook it was not offered when it can, in a fence.
    const pick = offered.includes("RB-PATCH-001-generation")
      ? offered[0]
      : "RB-PATCH-001-generation";
    const reply = choose(pick ?? "RB-PATCH-001-generation", 1, "ignore the operator") as {
      content: string;
    };
    return { content: `\`\`\`json\n${reply.content}\n\`\`\`` };
  },
};

const llm = () =>
  createLlmPlanner({
    baseUrl: server.baseUrl,
    model: "local-test-model",
    apiKey: "sk-test",
    timeoutMs: 5000,
    maxRetries: 0,
    maxTokens: 200,
    circuitBreaker: { failures: Number.MAX_SAFE_INTEGER, cooldownMs: 0 },
  });

describe("model qualification", () => {
  it("qualifies the perfect model: every label met, no unsafe choice", async () => {
    server.answer = MODELS.perfect as never;
    const r = await qualifyModel(llm(), catalog, THRESHOLDS);
    reports.perfect = r;
    expect(r).toMatchObject({ passed: true, accuracy: 1, unsafe_choices: 0, reasons: [] });
    expect(r.cases).toBe(catalog.qualification?.cases.length);
    expect(r.escalation_rate).toBeGreaterThan(0);
    expect(r.tokens.prompt).toBe(321 * r.results.filter((x) => x.latency_ms > 0).length);
    expect(r.latency_ms.p99).toBeGreaterThanOrEqual(r.latency_ms.p50);
  });

  it("refuses the random model: unsafe choices", async () => {
    server.answer = MODELS.random as never;
    const r = await qualifyModel(llm(), catalog, THRESHOLDS);
    reports.random = r;
    expect(r.passed).toBe(false);
    expect(r.unsafe_choices).toBeGreaterThan(0);
    expect(r.reasons[0]).toMatch(/unsafe choices \(must be 0\)/);
  });

  it("refuses the adversarial model: it never escalates and orders what it was not offered", async () => {
    server.answer = MODELS.adversarial as never;
    const r = await qualifyModel(llm(), catalog, THRESHOLDS);
    reports.adversarial = r;
    expect(r.passed).toBe(false);
    // It never escalates: the only escalations are cases it was not asked (the runbook the
    // appliance just failed locally was the only candidate). Its answers outside the
    // candidates still end with a person (L3).
    const failedLocally = new Set(
      (catalog.qualification?.cases ?? [])
        .filter((c) => c.incident.local_l1?.outcome === "failed")
        .map((c) => c.id),
    );
    const escalated = r.results.filter((x) => x.answer === "escalate").map((x) => x.id);
    expect(escalated.every((id) => failedLocally.has(id))).toBe(true);
    expect(r.unsafe_choices).toBeGreaterThanOrEqual(10);
    expect(r.results.some((x) => x.answer === "failed:outside_candidates" && x.unsafe)).toBe(true);
  });
});

describe("qualification offers what the live planner offers", () => {
  it("never offers the runbook the appliance's own L1 just failed: the case escalates unasked", async () => {
    const failedLocally = (catalog.qualification?.cases ?? []).filter(
      (c) => c.incident.local_l1?.outcome === "failed",
    );
    expect(failedLocally.map((c) => c.id)).toEqual(expect.arrayContaining(["Q-039", "Q-042"]));
    const only = {
      ...catalog,
      qualification: { version: 1 as const, cases: failedLocally },
    };
    // A model that takes the first runbook it is offered.
    server.answer = (r) => choose(allowedIds(r).find((id) => id !== "escalate") ?? "escalate");
    const asked = server.requests.length;
    const r = await qualifyModel(llm(), only, THRESHOLDS);
    const byId = new Map(r.results.map((x) => [x.id, x]));
    for (const id of ["Q-039", "Q-042"]) {
      expect(byId.get(id)).toMatchObject({ answer: "escalate", correct: true, unsafe: false });
    }
    // Only cases with another candidate reached the model.
    const others = failedLocally.filter((c) => !["Q-039", "Q-042"].includes(c.id));
    expect(server.requests.length - asked).toBeLessThanOrEqual(others.length);
  });
});

describe("control-plane planner qualify", () => {
  const MAIN = join(import.meta.dirname, "..", "main.ts");
  const run = promisify(execFile);
  const config = (name: string) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        data_dir: join(dir, "data"),
        planner: { llm: { base_url: server.baseUrl, model: `model-${name}` } },
      }),
    );
    return file;
  };
  const qualify = (file: string) =>
    run(process.execPath, [MAIN, "planner", "qualify", "--config", file], { timeout: 120_000 })
      .then((r) => ({ code: 0, ...r }))
      .catch((e: { code: number; stdout: string; stderr: string }) => e);

  beforeAll(async () => {
    const init = await run(process.execPath, [MAIN, "init", "--data-dir", join(dir, "data")]);
    expect(init.stderr).not.toMatch(/error/i);
  }, 60_000);

  it("prints the signed report, records it per server and model and exits 0 only when the model qualifies", async () => {
    server.answer = MODELS.perfect as never;
    const good = await qualify(config("perfect"));
    expect(good.code, good.stderr).toBe(0);
    const printed = parseMessage(QualificationReport, JSON.parse(good.stdout), "report");
    expect(printed).toMatchObject({
      type: "model_qualification",
      base_url: server.baseUrl,
      model: "model-perfect",
      passed: true,
    });
    // Signed with the control plane's order-signing key, the one `init` wrote.
    const orderKey = privateKeyFromPem(
      readFileSync(dataDirLayout(join(dir, "data")).orderKey, "utf8"),
    );
    expect(verifyDocument(printed, verificationKey(publicKeyOf(orderKey)))).toBe(true);
    expect(good.stderr).toMatch(/model model-perfect at http:\/\/127\.0\.0\.1:\d+\/v1: QUALIFIED/);
    expect(good.stderr).toMatch(/signed by key [0-9a-f]{64}/);
    server.answer = MODELS.adversarial as never;
    const bad = await qualify(config("adversarial"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/did not qualify: \d+ unsafe choices/);
    const store = openSqliteStore(join(dir, "data", "control-plane.sqlite"));
    try {
      const latest = (model: string) => store.planner.latestQualification(server.baseUrl, model);
      expect((await latest("model-perfect"))?.passed).toBe(true);
      expect((await latest("model-adversarial"))?.passed).toBe(false);
    } finally {
      await store.close();
    }
  });

  it("takes only its own flags", async () => {
    const r = await qualify(`${config("x")}" --tenant`).catch((e) => e);
    expect(r.code).not.toBe(0);
    const flags = await run(process.execPath, [
      MAIN,
      "planner",
      "qualify",
      "--month",
      "2026-11",
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(flags).toMatchObject({ code: 2 });
    expect((flags as { stderr: string }).stderr).toMatch(/planner qualify does not take --month/);
  });
});
