import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SIGN_IN } from "./operator/settings.ts";
import { openSqliteStore } from "./store/index.ts";
import { addOperator, createHarness, type Harness, simulatedAppliance } from "./testing/harness.ts";

/**
 * The readers' own time checks, apart from the expiry job that deletes what has lapsed: between
 * two runs of the job an expired session or enrollment token is still stored, and must already
 * be refused by the code that reads it. The app runs on a clock the test moves.
 */
const dir = mkdtempSync(join(tmpdir(), "cp-expiry-checks-"));
const password = "correct horse battery staple";
const start = Date.parse("2026-12-01T09:00:00.000Z");
let at = start;
let h: Harness;
/** The absolute lifetime; the idle timeout is set as long, so only the lifetime ends it here. */
const SESSION_MS = DEFAULT_SIGN_IN.session.maxMs;

beforeAll(async () => {
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), {
    clock: () => new Date(at),
    signIn: {
      ...DEFAULT_SIGN_IN,
      mfaRequiredFor: [],
      session: { idleMs: SESSION_MS, maxMs: SESSION_MS },
    },
  });
  await addOperator(h.store, "erin", password);
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

const me = (cookie: string) => h.app.request("/v1/operator/me", { headers: { cookie } });
const enroll = (body: unknown) =>
  h.app.request("/v1/appliance/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("expiry checked by the reader, not only by the expiry job", () => {
  it("an operator session is refused from the instant its lifetime ends", async () => {
    at = start;
    const res = await h.app.request("/v1/operator/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "erin", password }),
    });
    expect(res.status).toBe(200);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    at = start + SESSION_MS - 1;
    expect((await me(cookie)).status).toBe(200);
    at = start + SESSION_MS;
    const expired = await me(cookie);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { detail: string }).detail).toMatch(/session expired/);
    // The job has not run: the refusal is the reader's (which also deletes the ended session).
    at = start + SESSION_MS + 1000;
    expect((await me(cookie)).status).toBe(401);
  });

  it("an enrollment token is refused from the instant it expires, and accepted just before", async () => {
    at = start;
    const ttl = 3600;
    const late = await simulatedAppliance();
    const lateSite = await h.admin("/sites", {
      tenant_id: "clinic-x",
      appliance_id: "x-01",
      mac_addresses: [late.mac],
      token_ttl_s: ttl,
    });
    expect(lateSite.status).toBe(201);
    const { enrollment_token: lateToken } = (await lateSite.json()) as { enrollment_token: string };
    const onTime = await simulatedAppliance();
    const onTimeSite = await h.admin("/sites", {
      tenant_id: "clinic-x",
      appliance_id: "x-03",
      mac_addresses: [onTime.mac],
      token_ttl_s: ttl,
    });
    const { enrollment_token: onTimeToken } = (await onTimeSite.json()) as {
      enrollment_token: string;
    };

    at = start + ttl * 1000;
    const refused = await enroll(late.resign({ enrollment_token: lateToken }));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "token_invalid" });
    expect((await h.store.getAppliance("clinic-x", "x-01"))?.status).toBe("registered");

    at = start + ttl * 1000 - 1;
    const accepted = await enroll(onTime.resign({ enrollment_token: onTimeToken }));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ status: "enrolled" });
  });
});
