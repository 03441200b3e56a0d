import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../store/index.ts";
import {
  addOperator,
  createHarness,
  type Harness,
  nextMac,
  registerSite,
} from "../testing/harness.ts";

/**
 * Operator management through the admin API: bad input names its field, every change is an
 * audit event with the real actor, disabling or resetting ends sessions, named tokens act with
 * their own role and scope and stop at revocation or expiry.
 */
let dir: string;
let h: Harness;
let clock = new Date();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-accounts-"));
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), { clock: () => clock });
  await registerSite(h, "clinic-a", "a-01", nextMac());
  await registerSite(h, "clinic-b", "b-01", nextMac());
  await addOperator(h.store, "boss", "correct horse battery staple");
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read the answers' JSON field by field
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

async function signIn(username: string, password: string) {
  const res = await h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  return {
    status: res.status,
    cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
  };
}

const bearer = (token: string, path: string) =>
  h.app.request(`/v1/admin${path}`, { headers: { authorization: `Bearer ${token}` } });

describe("operator management", () => {
  it("refuses an unknown role or scope with a 400 naming the field", async () => {
    const role = await json(
      await h.admin("/operators", { username: "x", role: "superuser", scope: { tenants: "*" } }),
    );
    expect(role.status).toBe(400);
    expect(role.body.detail).toMatch(/role/);
    const scope = await json(
      await h.admin("/operators", {
        username: "x",
        role: "operator",
        scope: { tenants: ["no-such-clinic"] },
      }),
    );
    expect(scope.status).toBe(400);
    expect(scope.body.detail).toMatch(/^scope: unknown tenant no-such-clinic/);
    const shape = await json(
      await h.admin("/operators", { username: "x", role: "operator", scope: { tenant: "a" } }),
    );
    expect(shape.status).toBe(400);
    expect(shape.body.detail).toMatch(/scope/);
    const auditor = await json(
      await h.admin("/operators", {
        username: "x",
        role: "auditor",
        scope: { tenants: ["clinic-a"] },
      }),
    );
    expect(auditor.status).toBe(400);
    expect(auditor.body.detail).toMatch(/^scope: an auditor needs a window/);
  });

  it("creates a scoped operator who sees only its tenant, then changes, disables and resets it", async () => {
    const made = await json(
      await h.admin("/operators", {
        username: "tech",
        role: "operator",
        scope: { tenants: ["clinic-a"] },
      }),
    );
    expect(made.status).toBe(201);
    const password = made.body.password as string;
    const first = await signIn("tech", password);
    expect(first.status).toBe(200);
    const get = (cookie: string, tenant: string) =>
      h.app.request(`/v1/operator/tenants/${tenant}/incidents`, { headers: { cookie } });
    expect((await get(first.cookie, "clinic-a")).status).toBe(200);
    expect((await get(first.cookie, "clinic-b")).status).toBe(404);

    // The grant changes at once, for the live session too.
    const changed = await h.admin(
      "/operators/tech/grant",
      { role: "viewer", scope: { tenants: ["clinic-b"] } },
      "PUT",
    );
    expect(changed.status).toBe(200);
    expect((await get(first.cookie, "clinic-a")).status).toBe(404);
    expect((await get(first.cookie, "clinic-b")).status).toBe(200);

    const sessions = await json(await h.admin("/operators/tech/sessions"));
    expect(sessions.body.sessions).toHaveLength(1);
    expect((await h.admin("/operators/tech/disable", {})).status).toBe(200);
    expect((await get(first.cookie, "clinic-b")).status).toBe(401);
    expect((await signIn("tech", password)).status).toBe(401);
    expect((await json(await h.admin("/operators/tech/sessions"))).body.sessions).toEqual([]);
    expect((await h.admin("/operators/tech/enable", {})).status).toBe(200);

    const reset = await json(await h.admin("/operators/tech/reset-password", {}));
    expect((await signIn("tech", password)).status).toBe(401);
    const again = await signIn("tech", reset.body.password);
    expect(again.status).toBe(200);
    const listed = await json(await h.admin("/operators/tech/sessions"));
    const id = listed.body.sessions[0].session as string;
    expect((await h.admin(`/operators/tech/sessions/${id}`, undefined, "DELETE")).status).toBe(200);
    expect((await get(again.cookie, "clinic-b")).status).toBe(401);

    const audit = await json(await h.admin("/audit"));
    const actions = (audit.body as { actor: string; action: string; target: string }[])
      .filter((e) => e.target === "tech" && e.action.startsWith("operator."))
      .map((e) => `${e.actor.split(":")[0]} ${e.action}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        "token operator.created",
        "token operator.role_changed",
        "token operator.disabled",
        "token operator.enabled",
        "token operator.password_reset",
        "token operator.sessions_revoked",
      ]),
    );
  });

  it("unlocks a throttled name", async () => {
    for (let i = 0; i < 6; i++) await signIn("boss", "wrong password!!");
    expect((await signIn("boss", "correct horse battery staple")).status).toBe(429);
    expect((await h.admin("/operators/boss/unlock", {})).status).toBe(200);
    expect((await signIn("boss", "correct horse battery staple")).status).toBe(200);
  });

  it("issues named tokens that act with their own scope and stop at revocation or expiry", async () => {
    const made = await json(
      await h.admin("/tokens", {
        name: "ci-viewer",
        role: "viewer",
        scope: { tenants: ["clinic-a"] },
        days: 1,
      }),
    );
    expect(made.status).toBe(201);
    const token = made.body.token as string;
    expect((await bearer(token, "/tenants/clinic-a/incidents")).status).toBe(200);
    expect((await bearer(token, "/tenants/clinic-b/incidents")).status).toBe(404);
    expect((await bearer(token, "/operators")).status).toBe(403);
    const listed = await json(await h.admin("/tokens"));
    const row = listed.body.tokens.find((t: { name: string }) => t.name === "ci-viewer");
    expect(row.last_used_at).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(token);
    // A second live token of the same name is refused.
    expect(
      (await h.admin("/tokens", { name: "ci-viewer", role: "viewer", scope: { tenants: "*" } }))
        .status,
    ).toBe(409);

    // Expiry: a day later the token no longer authenticates.
    clock = new Date(Date.now() + 2 * 86_400_000);
    expect((await bearer(token, "/tenants/clinic-a/incidents")).status).toBe(401);
    clock = new Date();
    expect((await h.admin(`/tokens/${row.token_id}/revoke`, {})).status).toBe(200);
    expect((await bearer(token, "/tenants/clinic-a/incidents")).status).toBe(401);
    expect((await h.admin(`/tokens/${row.token_id}/revoke`, {})).status).toBe(404);
  });

  it("names a token by its whole hash: two sharing a long prefix are revoked one at a time", async () => {
    const prefix = "c0ffee".repeat(4);
    const hashes = ["1", "2"].map((end) => prefix + end.repeat(64 - prefix.length));
    for (const [i, tokenHash] of hashes.entries())
      await h.store.addAdminToken({ tokenHash, label: `twin-${i}` }, clock.toISOString());
    const [first, second] = hashes as [string, string];
    // The old listed form (12 hex) names nothing now.
    expect((await h.admin(`/tokens/${first.slice(0, 12)}/revoke`, {})).status).toBe(400);
    expect((await h.admin(`/tokens/${first}/revoke`, {})).status).toBe(200);
    expect((await h.store.findAdminToken(first))?.revokedAt).not.toBeNull();
    expect((await h.store.findAdminToken(second))?.revokedAt).toBeNull();
    expect((await h.admin(`/tokens/${second}/revoke`, {})).status).toBe(200);
    expect((await h.store.findAdminToken(second))?.revokedAt).not.toBeNull();
  });
});
