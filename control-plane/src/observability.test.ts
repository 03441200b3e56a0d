import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "#protocol";
import { ControlPlaneError } from "./errors.ts";
import { startScheduledJob } from "./jobs/lease.ts";
import { jsonLogger, REDACTED } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { openSqliteStore, type Store } from "./store/index.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

/** Log lines as the process would write them (pino, the real serializers and redaction). */
function capture(minLevel: "debug" | "info" = "info") {
  const lines: string[] = [];
  const logger = jsonLogger((line) => lines.push(line), minLevel);
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, parsed };
}

const dir = mkdtempSync(join(tmpdir(), "cp-observability-"));
let store: Store;
let h: Harness;
const logs = capture();

beforeAll(async () => {
  store = openSqliteStore(join(dir, "cp.sqlite"));
  h = await createHarness(store, { logger: logs.logger });
  // Routes that fail the way a broken dependency does, added beside the real ones.
  h.app.get("/test/internal-coded", () => {
    throw new ControlPlaneError("vault_integrity", "checksum mismatch for clinic-a/object-7", {
      cause: new Error("disk said no"),
    });
  });
  h.app.get("/test/internal-plain", () => {
    throw new TypeError("cannot read properties of undefined (reading 'seq')");
  });
  h.app.get("/test/client", () => {
    throw new ControlPlaneError("invalid_request", "month: use YYYY-MM");
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const unhandled = () => logs.parsed().filter((l) => l.msg === "unhandled error");

describe("a 500", () => {
  it("is logged with message, code and stack, and the client gets the generic problem", async () => {
    const before = unhandled().length;
    const res = await h.app.request("/test/internal-coded", {
      headers: { "x-request-id": "req-500-coded" },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      type: "urn:msp:problem:internal",
      title: "Internal error",
      status: 500,
      code: "internal",
    });
    expect(text).not.toMatch(/checksum|clinic-a|vault_integrity|disk said no|at /);

    const line = unhandled()[before];
    expect(line).toMatchObject({
      level: "error",
      request_id: "req-500-coded",
      code: "vault_integrity",
      err: {
        type: "ControlPlaneError",
        code: "vault_integrity",
        message: expect.stringContaining("checksum mismatch for clinic-a/object-7"),
      },
    });
    const err = line?.err as { stack: string; message: string };
    expect(err.stack).toMatch(/^ControlPlaneError: checksum mismatch[^\n]*\n\s+at /);
    expect(err.stack).toContain("caused by: Error: disk said no");
    expect(err.message).toContain("disk said no");
  });

  it("from an uncoded error is logged with its type, message and stack as well", async () => {
    const before = unhandled().length;
    const res = await h.app.request("/test/internal-plain");
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: "internal" });
    const line = unhandled()[before];
    expect(line?.err).toMatchObject({
      type: "TypeError",
      message: "cannot read properties of undefined (reading 'seq')",
      stack: expect.stringMatching(/^TypeError: cannot read[^\n]*\n\s+at /),
    });
    // No line anywhere says only "Error" with the message lost.
    for (const l of logs.parsed()) expect(l.error).toBeUndefined();
  });

  it("is not what a client error is: a 4xx keeps its code and detail and is not logged as one", async () => {
    const before = unhandled().length;
    const res = await h.app.request("/test/client");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: "invalid_request",
      detail: "month: use YYYY-MM",
    });
    expect(unhandled()).toHaveLength(before);
  });
});

describe("logs", () => {
  it("hide tokens, passwords and authorization headers passed by mistake", () => {
    const { logger, lines, parsed } = capture();
    logger.log("info", "oops", {
      token: "tok-SECRET-1",
      password: "correct horse battery staple",
      api_key: "sk-SECRET-2",
      headers: { authorization: "Bearer SECRET-3", cookie: "__Host-cp_session=SECRET-4" },
      body: { enrollment_token: "SECRET-5", admin_token: "SECRET-6" },
      tenant_id: "clinic-a",
    });
    expect(lines.join("")).not.toMatch(/SECRET|horse/);
    expect(parsed()[0]).toMatchObject({
      level: "info",
      msg: "oops",
      token: REDACTED,
      password: REDACTED,
      api_key: REDACTED,
      headers: { authorization: REDACTED, cookie: REDACTED },
      body: { enrollment_token: REDACTED, admin_token: REDACTED },
      tenant_id: "clinic-a",
    });
  });

  it("use the shared field names: time (RFC 3339), level by name, msg", () => {
    const { logger, parsed } = capture("debug");
    logger.log("debug", "hello", { request_id: "r1" });
    const line = parsed()[0];
    expect(Object.keys(line ?? {}).sort()).toEqual(["level", "msg", "request_id", "time"]);
    expect(line?.level).toBe("debug");
    expect(new Date(String(line?.time)).toISOString()).toBe(line?.time);
  });

  it("of a failing job carry the error's message and code", async () => {
    const { logger, parsed } = capture();
    const job = startScheduledJob(
      store,
      "observability-test",
      3600,
      async () => {
        throw new ControlPlaneError("vault_incomplete", "evidence 7 of clinic-a/box-1 is missing");
      },
      { logger, holder: "test" },
    );
    const deadline = Date.now() + 10_000;
    while (!parsed().some((l) => l.msg === "observability-test job failed")) {
      if (Date.now() > deadline) throw new Error("the job failure was not logged");
      await new Promise((r) => setTimeout(r, 20));
    }
    await job.stop();
    expect(parsed().find((l) => l.msg === "observability-test job failed")?.err).toMatchObject({
      type: "ControlPlaneError",
      code: "vault_incomplete",
      message: "evidence 7 of clinic-a/box-1 is missing",
      stack: expect.stringContaining("ControlPlaneError"),
    });
  });
});

describe("/metrics", () => {
  it("takes an API token only of a role the route table allows (admin), as docs/access.md says", async () => {
    const scrape = async (role: "admin" | "operator" | "viewer" | "auditor") => {
      const token = randomBytes(32).toString("base64url");
      await h.store.addAdminToken(
        {
          tokenHash: sha256Hex(new TextEncoder().encode(token)),
          label: `metrics-${role}`,
          role,
          scope:
            role === "admin"
              ? { tenants: "*" }
              : {
                  tenants: [],
                  ...(role === "auditor"
                    ? { window: { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z" } }
                    : {}),
                },
        },
        new Date().toISOString(),
      );
      return (await h.app.request("/metrics", { headers: { authorization: `Bearer ${token}` } }))
        .status;
    };
    expect(await scrape("admin")).toBe(200);
    for (const role of ["operator", "viewer", "auditor"] as const)
      expect(await scrape(role)).toBe(403);
  });

  it("exposes prom-client's process, GC and event-loop metrics and the existing counters", async () => {
    await h.app.request("/healthz");
    const res = await h.ops("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    for (const family of [
      "process_cpu_user_seconds_total counter",
      "process_resident_memory_bytes gauge",
      "nodejs_eventloop_lag_seconds gauge",
      "nodejs_gc_duration_seconds histogram",
      "nodejs_heap_size_used_bytes gauge",
      "cp_http_requests_total counter",
      "cp_http_request_duration_seconds histogram",
    ]) {
      expect(text).toContain(`# TYPE ${family}\n`);
    }
    expect(text).toMatch(
      /^cp_http_requests_total\{route="\/healthz",method="GET",status="200"\} 1$/m,
    );
    expect(text).toMatch(/^cp_http_request_duration_seconds_count\{route="\/healthz"\} 1$/m);
    expect(text).toMatch(
      /^cp_http_request_duration_seconds_bucket\{le="2.5",route="\/healthz"\} 1$/m,
    );
    // Each family once, even with several apps in one process.
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    expect(new Set(types).size).toBe(types.length);
  });

  it("keeps the named domain counters (the planner's and appliance routes' names)", async () => {
    const metrics = createMetrics();
    metrics.inc("cp_polls_total", "Poll requests answered.");
    metrics.inc("cp_polls_total", "Poll requests answered.", 2);
    const text = await metrics.render();
    expect(text).toContain("# HELP cp_polls_total Poll requests answered.\n");
    expect(text).toMatch(/^cp_polls_total 3$/m);
  });
});
