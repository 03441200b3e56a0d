import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner, generateEd25519KeyPair, Problem, parseMessage } from "#protocol";
import { silentLogger } from "./logger.ts";
import { openSqliteStore } from "./store/index.ts";
import {
  addOperator,
  createHarness,
  type Harness,
  pollBody,
  registerSite,
  simulatedAppliance,
} from "./testing/harness.ts";
import { asAppliance, chain, enroll, upload } from "./testing/in-process.ts";
import { localArchive } from "./vault/local-archive.ts";
import { createVault } from "./vault/vault.ts";

/**
 * Property-based fuzzing (fast-check) of every appliance, admin and operator endpoint, in
 * process through the Hono app (the appliance's mTLS identity is handed in the way the Node
 * server's bindings do). Whatever arrives — arbitrary JSON, a valid message with one field
 * replaced, non-JSON text, hostile path segments (traversal, encoded slashes, control
 * characters) — the answer is a 2xx/3xx or a 4xx RFC 9457 problem, never a 5xx, a crash or a
 * hang, and no answer ever carries a file from outside an export. Memory stays bounded.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const TENANT = "fuzz-clinic";
const APPLIANCE = "fuzz-clinic-01";
const SECRET = `secret-${randomUUID()}`;
const root = mkdtempSync(join(tmpdir(), "cp-fuzz-"));
let h: Harness;
let call: ReturnType<typeof asAppliance>;
let enrollRequest: Record<string, unknown>;
let session: { cookie: string; csrf: string };
let exportPath = "";
let cases = 0;
const heapBefore = process.memoryUsage().heapUsed;

beforeAll(async () => {
  const store = openSqliteStore(join(root, "cp.sqlite"));
  const cpSigner = createSigner(generateEd25519KeyPair().privateKey);
  const vault = createVault({
    store,
    signer: cpSigner,
    archive: localArchive(join(root, "archive")),
    logger: silentLogger,
    now: () => new Date(),
    retentionDays: 2192,
    segmentSeconds: 3600,
  });
  h = await createHarness(store, {
    signer: cpSigner,
    vault,
    exportsDir: join(root, "exports"),
    archiveKind: "local-not-worm",
    applianceRateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
  });
  // Files an attacker would like to read: beside the exports, and in the data folder.
  writeFileSync(join(root, "secret.txt"), SECRET);
  mkdirSync(join(root, "exports"), { recursive: true });
  writeFileSync(join(root, "exports", "secret.txt"), SECRET);

  const probe = await simulatedAppliance();
  const { token } = await registerSite(h, TENANT, APPLIANCE, probe.mac);
  const appliance = await simulatedAppliance(token, probe.mac);
  const enrolled = await enroll(h, appliance);
  if (enrolled.status !== "enrolled") throw new Error("not enrolled");
  call = asAppliance(h, enrolled.client_certificate_pem);
  const other = await simulatedAppliance();
  enrollRequest = other.request as unknown as Record<string, unknown>;
  const { bundles } = chain(appliance.evidenceSigner, TENANT, APPLIANCE, 5);
  expect((await call("/v1/appliance/evidence", upload(TENANT, APPLIANCE, bundles))).status).toBe(
    200,
  );
  await vault.publishCheckpoints();
  const base = `/tenants/${TENANT}/appliances/${APPLIANCE}/exports`;
  const created = await h.admin(base, {
    from: new Date(Date.now() - 3_600_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  });
  const { export_id } = (await created.json()) as { export_id: string };
  exportPath = `${base}/${export_id}`;

  await addOperator(h.store, "fuzzer", "a long enough passphrase");
  const login = await h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "fuzzer", password: "a long enough passphrase" }),
  });
  session = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    csrf: ((await login.json()) as { csrf_token: string }).csrf_token,
  };
});

afterAll(async () => {
  await h.store.close();
  rmSync(root, { recursive: true, force: true });
  const grewMb = (process.memoryUsage().heapUsed - heapBefore) / 1_048_576;
  console.log(JSON.stringify({ control_plane_cases: cases, heap_growth_mb: Math.round(grewMb) }));
  expect(grewMb).toBeLessThan(512);
});

/** Any response: not 5xx; a refusal is a problem document; answered within 5 s. */
async function expectSane(res: Promise<Response> | Response, what: string): Promise<string> {
  cases++;
  let timer: NodeJS.Timeout | undefined;
  const answer = await Promise.race([
    res,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within 5 s`)), 5000);
    }),
  ]).finally(() => clearTimeout(timer));
  const text = await answer.text();
  expect(answer.status, `${what}: ${text.slice(0, 300)}`).toBeLessThan(500);
  if (answer.status >= 400) {
    expect(answer.headers.get("content-type") ?? "", what).toMatch(/^application\/problem\+json/);
    parseMessage(Problem, JSON.parse(text), "problem");
  }
  expect(text, what).not.toContain(SECRET);
  return text;
}

/** Hostile path segments: traversal in many spellings, encoded separators, junk. */
const segment = fc.oneof(
  fc.constantFrom(
    TENANT,
    APPLIANCE,
    "..",
    "%2e%2e",
    "..%2f..%2f..%2fsecret.txt",
    "..%5c..%5csecret.txt",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "....%2f%2f",
    "secret.txt",
    "manifest.json",
    "%00",
    "%252e%252e%252f",
    "a".repeat(300),
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.webSegment(),
);

/** Every admin route (the operator API serves the same routes behind a session). */
const ROUTES: readonly (readonly [string, string])[] = [
  ["POST", "/sites"],
  ["GET", "/tenants/:t/appliances/:a"],
  ["GET", "/tenants/:t/appliances"],
  ["POST", "/tenants/:t/appliances/:a/approve"],
  ["POST", "/tenants/:t/appliances/:a/revoke"],
  ["POST", "/tenants/:t/appliances/:a/orders"],
  ["GET", "/tenants/:t/orders/:x"],
  ["GET", "/tenants/:t/appliances/:a/evidence"],
  ["GET", "/tenants/:t/alerts"],
  ["GET", "/tenants/:t/incidents"],
  ["GET", "/audit/verify"],
  ["GET", "/audit"],
  ["POST", "/tenants/:t/appliances/:a/enrollment-token"],
  ["DELETE", "/tenants/:t/appliances/:a"],
  ["POST", "/tenants/:t/appliances/:a/exports"],
  ["GET", "/tenants/:t/appliances/:a/exports/:x/:y"],
  ["GET", "/tenants/:t/escalations"],
  ["GET", "/tenants/:t/appliances/:a/incidents/:x"],
  ["POST", "/tenants/:t/appliances/:a/incidents/:x/approve"],
  ["POST", "/tenants/:t/appliances/:a/incidents/:x/reject"],
  ["POST", "/tenants/:t/appliances/:a/incidents/:x/resolve"],
  ["GET", "/tenants/:t/planner-policy"],
  ["PUT", "/tenants/:t/planner-policy"],
  ["GET", "/planner/kill-switch"],
  ["POST", "/planner/kill-switch"],
  ["GET", "/tenants/:t/rule-proposals"],
  ["POST", "/tenants/:t/rule-proposals/:x/approve"],
  ["POST", "/tenants/:t/rule-proposals/:x/reject"],
  ["GET", "/tenants/:t/l1-rules"],
  ["POST", "/tenants/:t/l1-rules/:x/revoke"],
  ["GET", "/tenants/:t/appliances/:a/decisions"],
];

const routeCase = fc.record({
  route: fc.constantFrom(...ROUTES),
  t: segment,
  a: segment,
  x: segment,
  y: segment,
  query: fc.option(fc.string({ maxLength: 30 }).map(encodeURIComponent), { nil: undefined }),
  body: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 200 })),
});

type RouteCase = typeof routeCase extends fc.Arbitrary<infer T> ? T : never;

function requestOf(c: RouteCase) {
  const [method, template] = c.route;
  const path = template.replace(":t", c.t).replace(":a", c.a).replace(":x", c.x).replace(":y", c.y);
  const query = c.query === undefined ? "" : `?after=${c.query}&limit=${c.query}`;
  const body =
    method === "GET" ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body);
  return { method, path: `${path}${query}`, body };
}

describe("fuzzing every endpoint", () => {
  it("appliance routes: arbitrary JSON, one-field mutations of valid messages, non-JSON", async () => {
    const routes = ["poll", "evidence", "order-results", "incidents"].map(
      (r) => `/v1/appliance/${r}`,
    );
    const valid = pollBody(TENANT, APPLIANCE);
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc
        .tuple(fc.constantFrom(...Object.keys(valid)), fc.jsonValue({ maxDepth: 2 }))
        .map(([k, v]) => ({ ...valid, [k]: v })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        body,
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        async (route, value, raw) => {
          const res = await call(route, value, raw === undefined ? {} : { raw });
          cases++;
          expect(res.status, JSON.stringify(res.json)).toBeLessThan(500);
          if (res.status >= 400) parseMessage(Problem, res.json, "problem");
        },
      ),
      { numRuns: RUNS * 2 },
    );
  }, 120_000);

  it("enrollment: arbitrary JSON and one-field mutations of a valid request, no certificate", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }),
          fc
            .tuple(fc.constantFrom(...Object.keys(enrollRequest)), fc.jsonValue({ maxDepth: 2 }))
            .map(([k, v]) => ({ ...enrollRequest, [k]: v })),
        ),
        async (value) => {
          await expectSane(
            h.app.request("/v1/appliance/enroll", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(value),
            }),
            "enroll",
          );
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  }, 120_000);

  it("admin routes with the admin token: hostile path segments, queries and bodies", async () => {
    await fc.assert(
      fc.asyncProperty(routeCase, async (c) => {
        const r = requestOf(c);
        await expectSane(
          h.app.request(`/v1/admin${r.path}`, {
            method: r.method,
            headers: {
              authorization: `Bearer ${h.adminToken}`,
              "content-type": "application/json",
            },
            ...(r.body === undefined ? {} : { body: r.body }),
          }),
          `${r.method} /v1/admin${r.path}`,
        );
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("operator routes with a session and its CSRF token, and sign-in with hostile bodies", async () => {
    await fc.assert(
      fc.asyncProperty(routeCase, async (c) => {
        const r = requestOf(c);
        await expectSane(
          h.app.request(`/v1/operator${r.path}`, {
            method: r.method,
            headers: {
              cookie: session.cookie,
              "x-csrf-token": session.csrf,
              "content-type": "application/json",
            },
            ...(r.body === undefined ? {} : { body: r.body }),
          }),
          `${r.method} /v1/operator${r.path}`,
        );
      }),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
        await expectSane(
          h.app.request("/v1/operator/login", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(value),
          }),
          "login",
        );
      }),
      { numRuns: Math.ceil(RUNS / 5) },
    );
  }, 120_000);

  it("export files: only the export's own files, whatever the path says", async () => {
    // The honest request works (so the property can fail)...
    const manifest = await h.admin(`${exportPath}/manifest.json`);
    expect(manifest.status).toBe(200);
    // ...and no spelling of a path reaches a file outside the export.
    await fc.assert(
      fc.asyncProperty(segment, segment, async (id, file) => {
        const [base, exportId] = [exportPath.slice(0, exportPath.lastIndexOf("/")), id];
        for (const path of [`${base}/${exportId}/${file}`, `${exportPath}/${file}`]) {
          const text = await expectSane(h.admin(path), path);
          expect(text).not.toContain(SECRET);
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
