import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../audit.ts";
import { FREE_FAILURES } from "../operator/sign-in.ts";
import { openSqliteStore } from "../store/index.ts";
import { addOperator, createHarness, type Harness } from "../testing/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-op-"));
let h: Harness;
const password = "correct horse battery staple";

beforeAll(async () => {
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")));
  for (const username of ["alice", "bob"]) {
    await addOperator(h.store, username, password);
  }
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

const login = (username: string, pw: string) =>
  h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: pw }),
  });

describe("operator authentication", () => {
  it("signs in with a secure session cookie and requires the CSRF token for changes", async () => {
    const res = await login("alice", password);
    expect(res.status).toBe(200);
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^__Host-cp_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const { csrf_token } = (await res.json()) as { csrf_token: string };
    const session = cookie.split(";")[0] ?? "";

    const me = await h.app.request("/v1/operator/me", { headers: { cookie: session } });
    expect(await me.json()).toEqual({ actor: "operator:alice" });

    const body = JSON.stringify({ evidence_key_fingerprint: "a".repeat(64) });
    const path = "/v1/operator/tenants/nobody/appliances/none/approve";
    const headers = { cookie: session, "content-type": "application/json" };
    const noCsrf = await h.app.request(path, { method: "POST", headers, body });
    expect(noCsrf.status).toBe(403);
    const withCsrf = await h.app.request(path, {
      method: "POST",
      headers: { ...headers, "x-csrf-token": csrf_token },
      body,
    });
    expect(withCsrf.status).toBe(404); // authenticated and CSRF-checked; the appliance does not exist

    const out = await h.app.request("/v1/operator/logout", {
      method: "POST",
      headers: { ...headers, "x-csrf-token": csrf_token },
    });
    expect(out.status).toBe(200);
    expect((await h.app.request("/v1/operator/me", { headers: { cookie: session } })).status).toBe(
      401,
    );
  });

  it("refuses unknown users and wrong passwords alike, and throttles the address after repeated failures", async () => {
    expect((await login("mallory", password)).status).toBe(401);
    for (let i = 0; i < FREE_FAILURES; i++)
      expect((await login("bob", "wrong password")).status).toBe(401);
    const throttled = await login("bob", password);
    expect(throttled.status).toBe(429);
    expect(((await throttled.json()) as { code: string }).code).toBe("locked_out");
  });

  it("records sign-ins and failures in the verified audit chain", async () => {
    const entries = await h.store.listAudit(0, 1000);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(["operator.login", "operator.login_failed", "operator.logout"]),
    );
    expect(verifyAuditChain(entries)).toBeNull();
  });
});
