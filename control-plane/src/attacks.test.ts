import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "./store/index.ts";
import { addOperator, createHarness, type Harness } from "./testing/harness.ts";

/**
 * Attacks on operator sessions that the other tests do not cover: session fixation (a session
 * id planted before sign-in must never become an authenticated session) and CSRF tokens that
 * belong to another session.
 */
const dir = mkdtempSync(join(tmpdir(), "cp-attacks-"));
const password = "correct horse battery staple";
let h: Harness;

beforeAll(async () => {
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")));
  for (const username of ["carol", "dave"]) {
    await addOperator(h.store, username, password);
  }
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(username: string, cookie?: string) {
  const res = await h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ username, password }),
  });
  expect(res.status).toBe(200);
  const session = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  return { session, csrf: csrf_token };
}

const me = (cookie: string) => h.app.request("/v1/operator/me", { headers: { cookie } });

describe("operator session attacks", () => {
  it("session fixation: a planted session id is replaced at sign-in and never authenticates", async () => {
    const planted = `__Host-cp_session=${randomBytes(32).toString("base64url")}`;
    expect((await me(planted)).status).toBe(401);
    const { session } = await login("carol", planted);
    expect(session).toMatch(/^__Host-cp_session=/);
    expect(session).not.toBe(planted);
    expect((await me(session)).status).toBe(200);
    expect((await me(planted)).status).toBe(401);
    // Signing in again with a live session id issues a new one as well.
    const again = await login("carol", session);
    expect(again.session).not.toBe(session);
  });

  it("CSRF: a token from another operator's session, or none, does not authorise a change", async () => {
    const carol = await login("carol");
    const dave = await login("dave");
    const path = "/v1/operator/tenants/nobody/appliances/none/approve";
    const body = JSON.stringify({ evidence_key_fingerprint: "a".repeat(64) });
    const attempt = (cookie: string, csrf?: string) =>
      h.app.request(path, {
        method: "POST",
        headers: {
          cookie,
          "content-type": "application/json",
          ...(csrf === undefined ? {} : { "x-csrf-token": csrf }),
        },
        body,
      });
    expect((await attempt(carol.session)).status).toBe(403);
    expect((await attempt(carol.session, dave.csrf)).status).toBe(403);
    expect((await attempt(carol.session, "")).status).toBe(403);
    // With its own token the request passes the CSRF check (and finds no such appliance).
    expect((await attempt(carol.session, carol.csrf)).status).toBe(404);
  });
});
