import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Config } from "../config.ts";
import { openSqliteStore } from "../store/index.ts";
import { addOperator, createHarness, type Harness } from "../testing/harness.ts";
import { DEFAULT_SIGN_IN } from "./settings.ts";
import { base32Decode, totp } from "./totp.ts";

/**
 * The TOTP second factor and session lifetimes through the real API, with the production
 * settings (admins need a code; 30 minutes idle, 8 hours at most) and an injected clock.
 */
let dir: string;
let h: Harness;
let clock = new Date("2026-11-02T09:00:10Z");
const STEP = 30_000;
const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-mfa-"));
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), {
    clock: () => clock,
    signIn: DEFAULT_SIGN_IN,
  });
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read the answers' JSON field by field
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

async function signIn(username: string, password: string, code?: string) {
  const res = await h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password, ...(code === undefined ? {} : { code }) }),
  });
  const body = (await res.json()) as { csrf_token?: string };
  return {
    status: res.status,
    cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    csrf: body.csrf_token ?? "",
  };
}

const asSession = (
  who: { cookie: string; csrf: string },
  path: string,
  body?: unknown,
): Promise<Response> =>
  Promise.resolve(
    h.app.request(`/v1/operator${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        cookie: who.cookie,
        "x-csrf-token": who.csrf,
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );

const codeOf = (base32: string, at = clock) => totp(base32Decode(base32) as Buffer, at);
const PASSWORD = "a long admin password";
const createAdmin = async (username: string) =>
  json(
    await h.admin("/operators", {
      username,
      role: "admin",
      scope: { tenants: "*" },
      password: PASSWORD,
    }),
  );

describe("TOTP second factor", () => {
  let ada = "";

  it("gives a new admin a secret once, sealed at rest, and refuses a password alone", async () => {
    const made = await createAdmin("ada");
    expect(made.status).toBe(201);
    ada = made.body.totp.secret;
    expect(made.body.totp.otpauth_uri).toContain(`secret=${ada}`);
    const stored = await h.store.getOperatorByName("ada");
    expect(stored?.totpSealed).toMatch(/^v1\./);
    expect(stored?.totpSealed).not.toContain(ada);
    // The listing never shows it again.
    expect(JSON.stringify((await json(await h.admin("/operators"))).body)).not.toContain(ada);

    expect((await signIn("ada", PASSWORD)).status).toBe(401);
    expect((await signIn("ada", PASSWORD, "000000")).status).toBe(401);
    expect((await signIn("ada", "wrong password!", codeOf(ada))).status).toBe(401);
    advance(STEP);
    expect((await signIn("ada", PASSWORD, codeOf(ada))).status).toBe(200);
  });

  it("takes a code one step either side, never twice, never two steps off", async () => {
    advance(STEP);
    const now = codeOf(ada);
    expect((await signIn("ada", PASSWORD, now)).status).toBe(200);
    // The same code again (replay) is refused, even a moment later in the same step.
    expect((await signIn("ada", PASSWORD, now)).status).toBe(401);
    // The previous step's code comes before the last one used: refused.
    expect(
      (await signIn("ada", PASSWORD, codeOf(ada, new Date(clock.getTime() - STEP)))).status,
    ).toBe(401);
    // The next step's code (a clock running ahead) is accepted once.
    const next = codeOf(ada, new Date(clock.getTime() + STEP));
    expect((await signIn("ada", PASSWORD, next)).status).toBe(200);
    expect((await signIn("ada", PASSWORD, next)).status).toBe(401);
    // Two steps off either way: refused.
    advance(5 * STEP);
    for (const d of [-2, 2])
      expect(
        (await signIn("ada", PASSWORD, codeOf(ada, new Date(clock.getTime() + d * STEP)))).status,
      ).toBe(401);
    expect(
      (await signIn("ada", PASSWORD, `${codeOf(ada).slice(0, 3)} ${codeOf(ada).slice(3)}`)).status,
    ).toBe(200);
    await h.app.request("/v1/admin/operators/ada/unlock", {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
  });

  it("lets any operator enrol its own: a code of the new secret puts it in force", async () => {
    await addOperator(h.store, "vera", PASSWORD, { role: "viewer", scope: { tenants: "*" } });
    advance(STEP);
    const vera = await signIn("vera", PASSWORD);
    expect(vera.status).toBe(200);
    const started = await json(await asSession(vera, "/mfa/enrol", {}));
    expect(started.status).toBe(200);
    const secret = started.body.secret as string;
    // Not yet in force: a password alone still signs in.
    expect((await signIn("vera", PASSWORD)).status).toBe(200);
    const wrong = await json(await asSession(vera, "/mfa/confirm", { code: "123456" }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toContain("code");
    expect((await asSession(vera, "/mfa/confirm", { code: codeOf(secret) })).status).toBe(200);
    expect((await signIn("vera", PASSWORD)).status).toBe(401);
    // The confirming code was used up.
    expect((await signIn("vera", PASSWORD, codeOf(secret))).status).toBe(401);
    advance(STEP);
    expect((await signIn("vera", PASSWORD, codeOf(secret))).status).toBe(200);
  });

  it("is recovered by another admin, never by oneself; both actors are audited", async () => {
    const made = await createAdmin("bob");
    const lost = made.body.totp.secret as string;
    advance(STEP);
    const adaSession = await signIn("ada", PASSWORD, codeOf(ada));
    expect(adaSession.status).toBe(200);
    const own = await asSession(adaSession, "/operators/ada/reset-mfa", {});
    expect(own.status).toBe(403);
    const reset = await json(await asSession(adaSession, "/operators/bob/reset-mfa", {}));
    expect(reset.status).toBe(200);
    const bob = reset.body.secret as string;
    advance(STEP);
    expect((await signIn("bob", PASSWORD, codeOf(lost))).status).toBe(401);
    expect((await signIn("bob", PASSWORD, codeOf(bob))).status).toBe(200);
    const audit = await h.store.listAudit(0, 500);
    expect(audit.find((e) => e.action === "operator.mfa_reset")).toMatchObject({
      actor: "operator:ada",
      target: "bob",
    });
    expect(audit.filter((e) => e.action === "operator.login").map((e) => e.actor)).toContain(
      "operator:bob",
    );
  });
});

describe("session lifetimes", () => {
  it("ends a session idle for the timeout, and any session at its absolute lifetime", async () => {
    advance(STEP);
    const s = await signIn("vera", PASSWORD, undefined);
    expect(s.status).toBe(401); // vera enrolled above
    await addOperator(h.store, "ivy", PASSWORD, { role: "viewer", scope: { tenants: "*" } });
    const ivy = await signIn("ivy", PASSWORD);
    expect(ivy.status).toBe(200);
    // Activity keeps it alive past one idle period.
    for (let i = 0; i < 3; i++) {
      advance(25 * 60_000);
      expect((await asSession(ivy, "/me")).status).toBe(200);
    }
    advance(31 * 60_000);
    expect((await asSession(ivy, "/me")).status).toBe(401);
    // Gone, not merely refused: back within the idle time it stays refused.
    expect((await asSession(ivy, "/me")).status).toBe(401);

    const busy = await signIn("ivy", PASSWORD);
    for (let t = 0; t < 7 * 60 + 45; t += 15) {
      advance(15 * 60_000);
      expect((await asSession(busy, "/me")).status).toBe(200);
    }
    advance(15 * 60_000);
    expect((await asSession(busy, "/me")).status).toBe(401);
  });

  it("reads its settings from a strict config naming a bad field", () => {
    const bad = Config.safeParse({ data_dir: "/x", sign_in: { mfa_required_for: ["root"] } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues[0]?.path)).toBe('["sign_in","mfa_required_for",0]');
    const unknown = Config.safeParse({ data_dir: "/x", sign_in: { idle: 5 } });
    expect(unknown.error?.issues[0]?.message).toContain("idle");
    const good = Config.parse({ data_dir: "/x", sign_in: { session_idle_minutes: 5 } });
    expect(good.sign_in).toMatchObject({ session_idle_minutes: 5, session_max_hours: 8 });
  });
});
