import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "#protocol";
import { verifyAuditChain } from "../../audit.ts";
import { openSqliteStore } from "../../store/index.ts";
import {
  createHarness,
  type Harness,
  registerSite as registerWithCa,
  simulatedAppliance,
} from "../../testing/harness.ts";
import { enroll } from "../../testing/in-process.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-site-life-"));
let h: Harness;
beforeAll(async () => {
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")));
});
afterAll(async () => {
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

// One tenant CA per tenant, as the control plane requires.
const cas = new Map<string, { certPem: string; keyPem: string }>();
async function registerSite(h: Harness, tenantId: string, applianceId: string, mac: string) {
  const registered = await registerWithCa(h, tenantId, applianceId, mac, {
    ...(cas.has(tenantId) ? { ca: cas.get(tenantId) } : {}),
  });
  cas.set(tenantId, registered.ca);
  return registered;
}

const hashOf = (token: string) => sha256Hex(new TextEncoder().encode(token));

describe("enrollment token rotation", () => {
  it("replaces the token before enrollment: the old one stops working, the new one enrolls", async () => {
    const probe = await simulatedAppliance();
    const { token: old } = await registerSite(h, "clinic-t", "t-01", probe.mac);
    const fresh = "a-new-token-made-by-pulumi-0123456789abcdef";
    const res = await h.admin("/tenants/clinic-t/appliances/t-01/enrollment-token", {
      enrollment_token_sha256: hashOf(fresh),
      token_ttl_s: 3600,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.enrollment_token).toBeUndefined(); // the caller made it: never echoed
    expect(Date.parse(String(body.token_expires_at)) - Date.now()).toBeGreaterThan(3500_000);

    const refused = await enroll(h, await simulatedAppliance(old, probe.mac)).catch((e) => e);
    expect(refused).toBeInstanceOf(Error);
    const enrolled = await enroll(h, await simulatedAppliance(fresh, probe.mac));
    expect(enrolled.status).toBe("enrolled");

    const again = await h.admin("/tenants/clinic-t/appliances/t-01/enrollment-token", {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { detail: string }).detail).toMatch(/active/);
  });

  it("makes the token itself when no hash is given, and refuses unknown fields", async () => {
    const probe = await simulatedAppliance();
    await registerSite(h, "clinic-t", "t-02", probe.mac);
    const res = await h.admin("/tenants/clinic-t/appliances/t-02/enrollment-token", {});
    const { enrollment_token } = (await res.json()) as { enrollment_token: string };
    expect(enrollment_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await h.store.getAppliance("clinic-t", "t-02"))?.tokenHash).toBe(
      hashOf(enrollment_token),
    );
    const bad = await h.admin("/tenants/clinic-t/appliances/t-02/enrollment-token", { ttl: 1 });
    expect(bad.status).toBe(400);
  });
});

describe("site removal", () => {
  it("deletes a registration that never enrolled, so the id and MAC are free again", async () => {
    const probe = await simulatedAppliance();
    await registerSite(h, "clinic-d", "d-01", probe.mac);
    const res = await h.admin("/tenants/clinic-d/appliances/d-01", undefined, "DELETE");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ deleted: true });
    expect((await h.admin("/tenants/clinic-d/appliances/d-01")).status).toBe(404);
    expect((await h.admin("/tenants/clinic-d/appliances/d-01", undefined, "DELETE")).status).toBe(
      404,
    );
    await registerSite(h, "clinic-d", "d-01", probe.mac);
  });

  it("revokes an enrolled appliance instead of deleting it, keeping its record", async () => {
    const probe = await simulatedAppliance();
    const { token } = await registerSite(h, "clinic-d", "d-02", probe.mac);
    expect((await enroll(h, await simulatedAppliance(token, probe.mac))).status).toBe("enrolled");
    const res = await h.admin("/tenants/clinic-d/appliances/d-02", undefined, "DELETE");
    expect(await res.json()).toMatchObject({ deleted: false, status: "revoked" });
    const second = await h.admin("/tenants/clinic-d/appliances/d-02", undefined, "DELETE");
    expect(await second.json()).toMatchObject({ deleted: false, status: "revoked" });
  });

  it("needs the admin token and records every change in the audit chain", async () => {
    const anonymous = await h.app.request("/v1/admin/tenants/clinic-d/appliances/d-01", {
      method: "DELETE",
    });
    expect(anonymous.status).toBe(401);
    const entries = await h.store.listAudit(0, 1000);
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["site.token_rotated", "site.deleted", "appliance.revoked"]),
    );
    expect(verifyAuditChain(entries)).toBeNull();
  });
});
