import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { APPLIANCE_API } from "#protocol";
import { openSqliteStore } from "../store/index.ts";
import { addOperator, createHarness, type Harness } from "../testing/harness.ts";
import {
  type Credential,
  defineRoute,
  type Guards,
  type Limits,
  mount,
  PUBLIC,
} from "./registry.ts";

/**
 * The route registry against the running app: every route registered on the app is an
 * operation of /openapi.json and the other way round, and every operation's declared rule is
 * enforced: without credentials, or with another surface's, each non-public route refuses.
 */
interface Operation {
  operationId: string;
  "x-credential": Credential;
  security: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

let dir: string;
let h: Harness;
let doc: Document;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-registry-"));
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")));
  doc = (await (await h.ops("/openapi.json")).json()) as Document;
  await addOperator(h.store, "rita", "correct horse battery staple");
  const login = await h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "rita", password: "correct horse battery staple" }),
  });
  expect(login.status).toBe(200);
  session = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    csrf: ((await login.json()) as { csrf_token: string }).csrf_token,
  };
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );

/** Well-formed values for every path parameter, so a refusal is the guard's, not a 400. */
const SAMPLE: Record<string, string> = {
  tenant: "clinic-r",
  appliance: "r-01",
  incident: "00000000-0000-4000-8000-000000000001",
  proposal: "00000000-0000-4000-8000-000000000002",
  rule: "00000000-0000-4000-8000-000000000003",
  order: "00000000-0000-4000-8000-000000000004",
  id: "20260101T000000Z-0123456789abcdef",
  file: "manifest.json",
  month: "2026-01",
  version: "1",
  job: "00000000-0000-4000-8000-000000000005",
  request: "00000000-0000-4000-8000-000000000006",
  username: "nobody",
  session: "0123456789abcdef",
  token: "0123456789ab",
};
const fill = (path: string) =>
  path.replaceAll(/\{([^}]+)\}/g, (_, name: string) => {
    const value = SAMPLE[name];
    if (!value) throw new Error(`no sample for path parameter ${name}`);
    return value;
  });

function send(
  method: string,
  path: string,
  op: Operation,
  headers: Record<string, string>,
): Promise<Response> {
  const form = op.requestBody?.content["application/x-www-form-urlencoded"] !== undefined;
  const body = method === "GET" ? undefined : form ? "csrf=forged" : "{}";
  return Promise.resolve(
    h.app.request(`https://cp.test${fill(path)}`, {
      method,
      headers: {
        ...(body === undefined
          ? {}
          : { "content-type": form ? "application/x-www-form-urlencoded" : "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body }),
    }),
  );
}

function expectRefused(res: Response, what: string) {
  // The dashboard sends a browser without a session to its sign-in page instead of a 401.
  if (res.status === 302) {
    expect(res.headers.get("location"), what).toBe("/dashboard/login");
    return;
  }
  expect([401, 403], `${what}: ${res.status}`).toContain(res.status);
}

describe("route registry", () => {
  it("documents exactly the routes the app serves", () => {
    const registered = new Set(
      h.app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replaceAll(/:([^/]+)/g, "{$1}")}`),
    );
    const documented = new Set(operations().map((o) => `${o.method} ${o.path}`));
    expect([...registered].sort()).toEqual([...documented].sort());
    // 5 appliance, 54 admin, 53 + 5 operator, 31 dashboard, 4 operations routes.
    expect(documented.size).toBe(161);
    for (const route of Object.values(APPLIANCE_API))
      expect(registered).toContain(`POST ${route.path}`);
  });

  it("gives every operation a unique id, its credential and the schemas it validates with", () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations()) {
      expect(op["x-credential"]).toMatch(
        /^(public|appliance-mtls|admin-token|metrics-token|operator-session|dashboard-session)$/,
      );
      expect(op.security.length === 0).toBe(op["x-credential"] === "public");
    }
    const approve =
      doc.paths["/v1/admin/tenants/{tenant}/appliances/{appliance}/approve"]?.post?.requestBody;
    expect(Object.keys(approve?.content["application/json"]?.schema.properties ?? {})).toEqual([
      "evidence_key_fingerprint",
    ]);
    // The dashboard answers errors with pages, the APIs with RFC 9457 problems.
    for (const { path, op } of operations()) {
      const type = path.startsWith("/dashboard") ? "text/html" : "application/problem+json";
      expect(Object.keys(op.responses["4XX"]?.content ?? {}), path).toEqual([type]);
    }
    const poll = doc.paths["/v1/appliance/poll"]?.post?.requestBody;
    expect(poll?.content["application/json"]?.schema.properties).toHaveProperty("nonce");
  });

  it("documents the answer of every operation: a 2xx body schema, or a 303 redirect", () => {
    const undocumented: string[] = [];
    for (const { method, path, op } of operations()) {
      const success = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
      const redirect = Object.keys(op.responses).includes("303");
      const schemas = success.flatMap(([, r]) => Object.values(r.content ?? {}));
      const declared =
        schemas.length > 0 &&
        schemas.every((m) => Object.keys((m as { schema?: object }).schema ?? {}).length > 0);
      if (redirect ? success.length > 0 : !declared) undocumented.push(`${method} ${path}`);
    }
    expect(undocumented).toEqual([]);
    const appliance = doc.paths["/v1/admin/tenants/{tenant}/appliances/{appliance}"]?.get;
    const json = appliance?.responses["200"]?.content?.["application/json"] as {
      schema: { properties?: Record<string, unknown>; $ref?: string };
    };
    expect(Object.keys(json.schema.properties ?? {})).toContain("evidence_head");
  });

  it("answers 500 when a handler's answer leaves its declared schema (checkResponses)", async () => {
    const drifted = defineRoute({
      method: "get",
      path: "/drifted",
      operationId: "drifted",
      summary: "answers outside its schema",
      auth: PUBLIC,
      response: { schema: z.object({ ok: z.literal(true) }) },
      handler: (c) => c.json({ ok: false }),
    });
    const none: Guards = {
      public: [],
      "appliance-mtls": [],
      "admin-token": [],
      "metrics-token": [],
      "operator-session": [],
      "dashboard-session": [],
    };
    const pass: MiddlewareHandler = (_c, next) => next();
    const limits: Limits = { enrollment: () => pass, "sign-in": () => pass };
    const serve = (checkResponses: boolean) => {
      const app = new OpenAPIHono();
      app.onError((_error, c) => c.text("internal", 500));
      const surface = { name: "t", base: "", serves: ["public" as const], maxBodyBytes: 0 };
      mount(app, surface, [drifted], none, limits, { checkResponses });
      return app.request("/drifted");
    };
    expect((await serve(false)).status).toBe(200);
    expect((await serve(true)).status).toBe(500);
  });

  it("keeps the public routes to a reviewed list", () => {
    const open = operations()
      .filter((o) => o.op["x-credential"] === "public")
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(open).toEqual([
      "GET /dashboard/login",
      "GET /dashboard/style.css",
      "GET /healthz",
      "GET /readyz",
      "POST /dashboard/login",
      "POST /v1/appliance/enroll",
      "POST /v1/operator/login",
    ]);
  });

  it("refuses every non-public route without credentials", async () => {
    const guarded = operations().filter((o) => o.op["x-credential"] !== "public");
    expect(guarded.length).toBe(154);
    for (const { method, path, op } of guarded) {
      expectRefused(await send(method, path, op, {}), `${method} ${path}`);
    }
  });

  it("refuses every non-public route with another surface's credentials", async () => {
    const others: Record<Exclude<Credential, "public">, Record<string, string>> = {
      // An operator session and an admin token, but no client certificate.
      "appliance-mtls": {
        authorization: `Bearer ${h.adminToken}`,
        cookie: session.cookie,
        "x-csrf-token": session.csrf,
      },
      "admin-token": { cookie: session.cookie, "x-csrf-token": session.csrf },
      "metrics-token": { cookie: session.cookie, "x-csrf-token": session.csrf },
      "operator-session": { authorization: `Bearer ${h.adminToken}` },
      // A JSON-API session carries no dashboard CSRF cookie.
      "dashboard-session": {
        authorization: `Bearer ${h.adminToken}`,
        cookie: session.cookie,
        "x-csrf-token": session.csrf,
      },
    };
    for (const { method, path, op } of operations()) {
      const credential = op["x-credential"];
      if (credential === "public") continue;
      expectRefused(await send(method, path, op, others[credential]), `${method} ${path}`);
    }
  });

  it("admits each surface's own credential (so the refusals above are the guards')", async () => {
    const admin = await h.app.request("/v1/admin/audit", {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    expect(admin.status).toBe(200);
    const operator = await h.app.request("/v1/operator/audit", {
      headers: { cookie: session.cookie },
    });
    expect(operator.status).toBe(200);
  });
});
