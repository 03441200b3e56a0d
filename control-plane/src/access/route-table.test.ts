import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { sha256Hex } from "#protocol";
import {
  type Authorization,
  defineRoute,
  type Guards,
  type Limits,
  mount,
} from "../routes/registry.ts";
import { addOperator, httpsRequest } from "../testing/harness.ts";
import { startTlsHarness, type TlsHarness } from "../testing/tls-server.ts";
import { ACCESS_DOC, generateAccessDoc } from "./doc.ts";
import { ROLES, type Role, type Scope } from "./roles.ts";
import { type RouteRow, routeTable } from "./route-table.ts";

/**
 * Every route × every role, over real HTTPS: each role signs in (a JSON-API session, a
 * dashboard session and a named API token of that role), then calls every route of its
 * surfaces on a tenant inside its scope and on one outside it. The observed outcome must be
 * exactly the table generated from the registry (docs/access.md): allowed, 403 for a role
 * without the permission, 404 (with an `access.denied` audit event) outside the scope.
 */
const IN = "clinic-in";
const OUT = "clinic-out";
const PASSWORD = "correct horse battery staple";
/** An auditor's window covering the sample month. */
const WINDOW = { from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z" };
const scopeOf = (role: Role): Scope =>
  role === "admin"
    ? { tenants: "*" }
    : role === "auditor"
      ? { tenants: [IN], window: WINDOW }
      : { tenants: [IN] };

const SAMPLE: Record<string, string> = {
  appliance: "in-01",
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
  token: "0123456789ab".repeat(5).slice(0, 64).padEnd(64, "0"),
};
const fill = (path: string, tenant: string) =>
  path.replaceAll(/\{([^}]+)\}/g, (_, name: string) => {
    const value = name === "tenant" ? tenant : SAMPLE[name];
    if (!value) throw new Error(`no sample for path parameter ${name}`);
    return value;
  });

interface Credentials {
  token: string;
  api: { cookie: string; csrf: string };
  dashboard: { cookie: string; csrf: string };
}

let t: TlsHarness;
let base: string;
let rows: RouteRow[];
const who = new Map<Role, Credentials>();

const cookiesOf = (setCookie: string[] | undefined) =>
  (setCookie ?? []).map((c) => c.split(";")[0]).join("; ");

async function signIn(role: Role): Promise<Credentials> {
  const username = `${role}-user`;
  await addOperator(t.h.store, username, PASSWORD, { role, scope: scopeOf(role) });
  const api = await httpsRequest(`${base}/v1/operator/login`, {
    method: "POST",
    ca: t.ca,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  expect(api.status).toBe(200);
  const page = await httpsRequest(`${base}/dashboard/login`, {
    method: "POST",
    ca: t.ca,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: base,
      "sec-fetch-site": "same-origin",
    },
    body: new URLSearchParams({ username, password: PASSWORD }).toString(),
  });
  expect(page.status).toBe(303);
  const dashboardCookies = cookiesOf(page.headers["set-cookie"]);
  const token = randomBytes(32).toString("base64url");
  await t.h.store.addAdminToken(
    {
      tokenHash: sha256Hex(new TextEncoder().encode(token)),
      label: `${role}-token`,
      role,
      scope: scopeOf(role),
    },
    new Date().toISOString(),
  );
  return {
    token,
    api: {
      cookie: cookiesOf(api.headers["set-cookie"]),
      csrf: (JSON.parse(api.text) as { csrf_token: string }).csrf_token,
    },
    dashboard: {
      cookie: dashboardCookies,
      csrf: /__Host-cp_dashboard_csrf=([^;]+)/.exec(dashboardCookies)?.[1] ?? "",
    },
  };
}

beforeAll(async () => {
  t = await startTlsHarness("cp-access-");
  base = `https://127.0.0.1:${t.server.port}`;
  rows = routeTable(
    (
      (await (
        await t.h.app.request("/openapi.json", {
          headers: { authorization: `Bearer ${t.h.adminToken}` },
        })
      ).json()) as { paths: never }
    ).paths,
  );
  for (const role of ROLES) who.set(role, await signIn(role));
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** The request a role makes to a route, with the credential the route's surface takes. */
function call(row: RouteRow, role: Role, tenant: string) {
  const c = who.get(role) as Credentials;
  const form = row.credential === "dashboard-session";
  const headers: Record<string, string> =
    row.credential === "admin-token"
      ? { authorization: `Bearer ${c.token}` }
      : row.credential === "operator-session"
        ? { cookie: c.api.cookie, "x-csrf-token": c.api.csrf }
        : { cookie: c.dashboard.cookie, origin: base, "sec-fetch-site": "same-origin" };
  const body =
    row.method === "GET"
      ? undefined
      : form
        ? new URLSearchParams({ csrf: c.dashboard.csrf }).toString()
        : "{}";
  if (body !== undefined)
    headers["content-type"] = form ? "application/x-www-form-urlencoded" : "application/json";
  return httpsRequest(`${base}${fill(row.path, tenant)}`, {
    method: row.method,
    ca: t.ca,
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

let auditSeen = 0;
/** The `access.denied` events written since the last look. */
async function denials(): Promise<{ reason: string }[]> {
  const entries = await t.h.store.listAudit(auditSeen, 1000);
  auditSeen = entries.at(-1)?.seq ?? auditSeen;
  return entries
    .filter((e) => e.action === "access.denied")
    .map((e) => JSON.parse(e.detailJson) as { reason: string });
}

type Outcome = "allowed" | "403" | "404";

describe("route × role", () => {
  it("docs/access.md is the table the registry generates", async () => {
    const doc = readFileSync(join(import.meta.dirname, "../../..", ACCESS_DOC), "utf8");
    expect(doc).toBe(await generateAccessDoc());
  });

  it("answers every route for every role exactly as the table says, in scope and out", async () => {
    const staff = rows.filter((r) =>
      ["admin-token", "operator-session", "dashboard-session"].includes(r.credential),
    );
    // Sign-outs last: they end the session the other calls use.
    staff.sort((a, b) => Number(a.path.endsWith("/logout")) - Number(b.path.endsWith("/logout")));
    expect(staff.length).toBeGreaterThan(80);
    await denials();
    const expected: string[] = [];
    const observed: string[] = [];
    let calls = 0;
    for (const row of staff) {
      for (const role of ROLES) {
        const scoped = row.path.includes("{tenant}") && role !== "admin";
        const targets: [string, Outcome][] = [
          [IN, row.roles.includes(role) ? "allowed" : "403"],
          ...(scoped ? [[OUT, "404"] as [string, Outcome]] : []),
        ];
        for (const [tenant, want] of targets) {
          const res = await call(row, role, tenant);
          const denied = await denials();
          calls++;
          const got: Outcome =
            denied.length === 0 ? "allowed" : denied[0]?.reason === "role" ? "403" : "404";
          // Allowed means the request reached the handler: signed in, and not refused.
          if (got === "allowed")
            expect(res.status, `${row.method} ${row.path} ${role}`).not.toBe(401);
          if (got !== "allowed") expect(String(res.status)).toBe(got);
          const key = `${row.method} ${row.path} ${role}@${tenant === IN ? "in" : "out"}`;
          expected.push(`${key}: ${want}`);
          observed.push(`${key}: ${got}`);
        }
      }
    }
    expect(observed).toEqual(expected);
    expect(calls).toBeGreaterThan(400);
  }, 300_000);

  it("refuses an auditor a month or export bound outside its window with a 404", async () => {
    const c = who.get("auditor") as Credentials;
    const get = (month: string) =>
      httpsRequest(`${base}/v1/admin/tenants/${IN}/packets/${month}/packet.md`, {
        method: "GET",
        ca: t.ca,
        headers: { authorization: `Bearer ${c.token}` },
      });
    await denials();
    expect((await get("2026-05")).status).toBe(404);
    expect(await denials()).toEqual([expect.objectContaining({ reason: "outside_window" })]);
    expect((await get("2026-03")).status).not.toBe(401);
    expect(await denials()).toEqual([]);
    const exportOutside = await httpsRequest(
      `${base}/v1/admin/tenants/${IN}/appliances/in-01/exports`,
      {
        method: "POST",
        ca: t.ca,
        headers: { authorization: `Bearer ${c.token}`, "content-type": "application/json" },
        body: JSON.stringify({ from: "2025-12-01T00:00:00Z", to: "2026-02-01T00:00:00Z" }),
      },
    );
    expect(exportOutside.status).toBe(404);
    expect(await denials()).toEqual([expect.objectContaining({ reason: "outside_window" })]);
  });
});

describe("a route without a rule", () => {
  const pass: MiddlewareHandler = (_c, next) => next();
  const guards: Guards = {
    public: [],
    "appliance-mtls": [],
    "admin-token": [pass],
    "metrics-token": [pass],
    "operator-session": [pass],
    "dashboard-session": [pass],
  };
  const limits: Limits = { enrollment: () => pass, "sign-in": () => pass };
  const surface = { name: "t", base: "", serves: ["admin-token" as const], maxBodyBytes: 0 };
  const register = (auth: Authorization) => () =>
    mount(
      new OpenAPIHono(),
      surface,
      [
        defineRoute({
          method: "get",
          path: "/x",
          operationId: "x",
          summary: "x",
          auth,
          response: { schema: z.object({}) },
          handler: (c) => c.json({}),
        }),
      ],
      guards,
      limits,
    );

  it("fails to register without a permission, or with one that does not fit its credential", () => {
    expect(register({ credentials: ["admin-token"] } as unknown as Authorization)).toThrow(
      /declares no permission/,
    );
    expect(register({ credentials: ["admin-token"], permission: "public" })).toThrow(
      /declares no permission/,
    );
    expect(register({ credentials: ["admin-token"], permission: "read" })).not.toThrow();
  });
});
