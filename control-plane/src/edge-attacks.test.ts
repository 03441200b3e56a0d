import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "#protocol";
import { MAX_JSON_DEPTH, MAX_PUBLIC_BODY_BYTES } from "./http/body.ts";
import { MAX_CONNECTIONS_PER_ADDRESS, TLS_HANDSHAKE_TIMEOUT_MS } from "./server.ts";
import { httpsPost, registerSite, simulatedAppliance } from "./testing/harness.ts";
import { startTlsHarness, type TlsHarness } from "./testing/tls-server.ts";

/**
 * The control plane's outside edge, attacked through its real HTTPS listener: body sizes and
 * nesting on unauthenticated routes, text that is not UTF-8, content types, the kill switch
 * with a bad reason, what is public, the headers of every answer, the TLS suites offered, the
 * handshake window and the per-address connection cap.
 */
const scrapeToken = randomBytes(24).toString("base64url");
let t: TlsHarness;
let applianceTls: { ca: string; cert: string; key: string };

beforeAll(async () => {
  t = await startTlsHarness("cp-edge-", {
    metricsScrapeTokenSha256: sha256Hex(new TextEncoder().encode(scrapeToken)),
  });
  const probe = await simulatedAppliance();
  const reg = await registerSite(t.h, "clinic-edge", "edge-01", probe.mac);
  const box = await simulatedAppliance(reg.token, probe.mac);
  const res = await post("/v1/appliance/enroll", box.request);
  expect(res).toMatchObject({ status: 200, json: { status: "enrolled" } });
  const cert = (res.json as { client_certificate_pem: string }).client_certificate_pem;
  applianceTls = { ca: t.ca, cert, key: box.tlsKeyPem };
});
afterAll(() => t.close());

const url = (path: string) => `${t.server.url}${path}`;
const post = (
  path: string,
  body: unknown,
  options: { raw?: string | Buffer; headers?: Record<string, string>; tls?: object } = {},
) =>
  httpsPost(
    url(path),
    body,
    { ca: t.ca, ...options.tls, ...(options.headers ? { headers: options.headers } : {}) },
    options.raw,
  );
const get = (path: string, headers: Record<string, string> = {}) =>
  httpsPost(url(path), null, { ca: t.ca, method: "GET", headers });
const admin = { authorization: `Bearer ${"x"}` };

/** A JSON array nested `depth` deep: `[[[…]]]`. */
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("bodies on the edge", () => {
  it("an unauthenticated route refuses a body over the small cap, naming it; an authenticated one keeps the large cap", async () => {
    const big = JSON.stringify({ v: 1, pad: "x".repeat(MAX_PUBLIC_BODY_BYTES) });
    const enroll = await post("/v1/appliance/enroll", null, { raw: big });
    expect(enroll).toMatchObject({ status: 413, json: { code: "payload_too_large" } });
    expect((enroll.json as { detail: string }).detail).toContain(String(MAX_PUBLIC_BODY_BYTES));
    const signIn = await post("/v1/operator/login", null, { raw: big });
    expect(signIn.status).toBe(413);
    // The same size to the evidence route is read and refused for its content, not its size.
    const evidence = await post("/v1/appliance/evidence", null, {
      raw: big,
      tls: applianceTls,
    });
    expect(evidence).toMatchObject({ status: 400, json: { code: "invalid_request" } });
  });

  it("refuses a 4 MB nested array cheaply on both kinds of route, naming the limit", async () => {
    const bomb = nested(2 * 1024 * 1024 - 8);
    const enroll = await post("/v1/appliance/enroll", null, { raw: bomb });
    expect(enroll.status).toBe(413);
    const evidence = await post("/v1/appliance/evidence", null, {
      raw: bomb,
      tls: applianceTls,
    });
    expect(evidence).toMatchObject({ status: 400, json: { code: "invalid_request" } });
    expect((evidence.json as { detail: string }).detail).toContain(
      `deeper than ${MAX_JSON_DEPTH} levels`,
    );
    // Nesting inside a string is text, not depth.
    const inString = await post("/v1/appliance/enroll", null, {
      raw: JSON.stringify({ v: 1, s: nested(100) }),
    });
    expect(inString).toMatchObject({ status: 400 });
    expect((inString.json as { detail: string }).detail).not.toContain("deeper");
    // The server still answers at once.
    const started = performance.now();
    expect((await get("/healthz")).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("refuses a body that is not valid UTF-8 instead of replacing the bytes", async () => {
    const probe = await simulatedAppliance();
    await registerSite(t.h, "clinic-utf", "utf-01", probe.mac, { approvalOnly: true });
    const text = JSON.stringify({ ...probe.request, agent_version: "1.0-XX" });
    const bytes = Buffer.from(text, "utf8");
    const at = bytes.indexOf("XX");
    bytes[at] = 0xff;
    bytes[at + 1] = 0xfe;
    const res = await post("/v1/appliance/enroll", null, { raw: bytes });
    expect(res).toMatchObject({ status: 400, json: { detail: "the body is not valid UTF-8" } });
    expect((await t.h.store.getAppliance("clinic-utf", "utf-01"))?.status).toBe("registered");
  });

  it("refuses a JSON route's body sent as another content type with 415", async () => {
    const probe = await simulatedAppliance();
    const res = await post("/v1/appliance/enroll", null, {
      raw: JSON.stringify(probe.request),
      headers: { "content-type": "text/plain" },
    });
    expect(res).toMatchObject({ status: 415, json: { code: "unsupported_media_type" } });
  });
});

describe("the kill switch with a bad reason", () => {
  const adminHeaders = () => ({ authorization: `Bearer ${t.h.adminToken}` });
  const state = async () =>
    (await get("/v1/admin/planner/kill-switch", adminHeaders())).json as { engaged: boolean };
  const engagements = async () =>
    (await t.h.store.listAudit(0, 1000)).filter((e) => e.action === "planner.kill_switch_engaged")
      .length;

  it("answers 400 and stays released for a lone surrogate or invalid UTF-8; a good engage is audited", async () => {
    const audited = await engagements();
    const surrogate = await post("/v1/admin/planner/kill-switch", null, {
      raw: '{"engaged":true,"reason":"stop \\ud800 now"}',
      headers: adminHeaders(),
    });
    expect(surrogate).toMatchObject({ status: 400, json: { code: "invalid_request" } });
    const invalid = Buffer.from('{"engaged":true,"reason":"stop XX now"}');
    invalid[invalid.indexOf("XX")] = 0xc3;
    const broken = await post("/v1/admin/planner/kill-switch", null, {
      raw: invalid,
      headers: adminHeaders(),
    });
    expect(broken).toMatchObject({ status: 400, json: { code: "invalid_request" } });
    expect((await state()).engaged).toBe(false);
    expect(await engagements()).toBe(audited);

    const good = await post(
      "/v1/admin/planner/kill-switch",
      { engaged: true, reason: "model misbehaving" },
      { headers: adminHeaders() },
    );
    expect(good.status).toBe(200);
    expect(await engagements()).toBe(audited + 1);
    const lift = await post(
      "/v1/admin/planner/kill-switch",
      { engaged: false, reason: "fixed" },
      { headers: adminHeaders() },
    );
    expect(lift.status).toBe(200);
  });
});

describe("what is public, and the headers of every answer", () => {
  it("/metrics needs the scrape token or an admin token; /openapi.json an admin token", async () => {
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", admin)).status).toBe(401);
    const scraped = await get("/metrics", { authorization: `Bearer ${scrapeToken}` });
    expect(scraped.status).toBe(200);
    expect(String(scraped.json)).toContain("cp_http_requests_total");
    const byAdmin = await get("/metrics", { authorization: `Bearer ${t.h.adminToken}` });
    expect(byAdmin.status).toBe(200);
    expect((await get("/openapi.json")).status).toBe(401);
    expect((await get("/openapi.json", { authorization: `Bearer ${scrapeToken}` })).status).toBe(
      401,
    );
    const doc = await get("/openapi.json", { authorization: `Bearer ${t.h.adminToken}` });
    expect(doc).toMatchObject({ status: 200, json: { openapi: "3.1.0" } });
    // Health stays public for load balancers.
    expect((await get("/healthz")).status).toBe(200);
  });

  it("every JSON answer, success or problem, carries no-store, nosniff and the framing policy", async () => {
    const answers = [
      await get("/healthz"),
      await get("/v1/admin/audit", { authorization: `Bearer ${t.h.adminToken}` }),
      await post("/v1/appliance/enroll", { v: 1 }),
      await get("/v1/nothing-here"),
      await post("/v1/appliance/poll", {}),
    ];
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
      });
      expect(res.headers["strict-transport-security"]).toMatch(/^max-age=\d+/);
    }
  });
});

/**
 * `openssl s_client` against the listener with one TLS 1.2 cipher: did the handshake finish?
 * Run asynchronously: the server answers from this same process.
 */
function handshakes(cipher: string): Promise<boolean> {
  const { port } = new URL(t.server.url);
  return new Promise((resolve) => {
    const child = execFile(
      "openssl",
      ["s_client", "-connect", `127.0.0.1:${port}`, "-tls1_2", "-cipher", cipher, "-brief"],
      { encoding: "utf8", timeout: 10_000 },
      (error, stdout, stderr) =>
        resolve(!error && /Protocol version: TLSv1\.2/.test(`${stdout}${stderr}`)),
    );
    child.stdin?.end();
  });
}

describe("TLS", () => {
  it("TLS 1.2 offers only ECDHE with AEAD ciphers: no CBC, no SHA-1, no static RSA", async () => {
    expect(await handshakes("ECDHE-ECDSA-AES128-GCM-SHA256")).toBe(true);
    expect(await handshakes("ECDHE-ECDSA-CHACHA20-POLY1305")).toBe(true);
    for (const weak of [
      "ECDHE-ECDSA-AES128-SHA",
      "ECDHE-ECDSA-AES256-SHA",
      "ECDHE-ECDSA-AES128-SHA256",
      "ECDHE-ECDSA-AES256-SHA384",
      "AES128-GCM-SHA256",
      "AES128-SHA",
    ]) {
      expect(await handshakes(weak), weak).toBe(false);
    }
  });

  const open = (localAddress: string) =>
    new Promise<Socket>((resolve, reject) => {
      const { port } = new URL(t.server.url);
      const socket = connect({ host: "127.0.0.1", port: Number(port), localAddress });
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
    });
  const closed = (socket: Socket) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed || socket.readableEnded) resolve();
      socket.once("close", () => resolve());
    });

  it("closes a connection that never finishes its handshake after the short window", async () => {
    const socket = await open("127.0.0.4");
    const started = performance.now();
    await closed(socket);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(TLS_HANDSHAKE_TIMEOUT_MS - 1000);
    expect(waited).toBeLessThan(TLS_HANDSHAKE_TIMEOUT_MS + 5000);
  }, 30_000);

  it("closes connections over the per-address cap at once; other addresses still connect", async () => {
    const sockets = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS_PER_ADDRESS + 5 }, () => open("127.0.0.5")),
    );
    try {
      const refused = await Promise.all(
        sockets.map((s) =>
          Promise.race([
            closed(s).then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), 1500)),
          ]),
        ),
      );
      expect(refused.filter(Boolean).length).toBe(5);
      const other = await httpsPost(url("/healthz"), null, {
        ca: t.ca,
        method: "GET",
        localAddress: "127.0.0.6",
      });
      expect(other.status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
    }
  }, 30_000);
});
