import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpsPost, nextMac, registerSite, simulatedAppliance } from "./testing/harness.ts";
import { startTlsHarness, type TlsHarness } from "./testing/tls-server.ts";

/**
 * Enrollment without a token, against the real server over TLS: a registered MAC alone must
 * neither change a token site's registration nor be told apart from an unregistered one.
 */
let t: TlsHarness;

beforeAll(async () => {
  t = await startTlsHarness("cp-enroll-attacks-");
});
afterAll(() => t.close());

const enroll = (request: unknown) =>
  httpsPost(`${t.server.url}/v1/appliance/enroll`, request, { ca: t.ca });

describe("enrollment without a token over TLS", () => {
  it("a registered MAC without token leaves a token site registered and is answered as an unknown MAC", async () => {
    const probe = await simulatedAppliance();
    const reg = await registerSite(t.h, "clinic-e", "e-01", probe.mac);
    // The attacker knows the MAC, not the token, and brings its own keys.
    const attacker = await simulatedAppliance(undefined, probe.mac);
    const { enrollment_token: _t, ...noToken } = attacker.request;
    const registered = await enroll(noToken);
    const unknown = await enroll({ ...noToken, mac_addresses: [nextMac()] });
    expect(registered.status).toBe(200);
    expect(registered).toMatchObject({ json: { status: "pending" } });
    // Byte for byte the same answer (the signature is deterministic over the same content).
    expect(registered.json).toEqual(unknown.json);
    expect(await t.h.store.getAppliance("clinic-e", "e-01")).toMatchObject({
      status: "registered",
      evidenceKeyFingerprint: null,
    });
    // The real box then enrolls with its token.
    const real = await simulatedAppliance(reg.token, probe.mac);
    expect(await enroll(real.request)).toMatchObject({ status: 200, json: { status: "enrolled" } });
  });

  it("a registered approval-only MAC is answered as an unknown one", async () => {
    const box = await simulatedAppliance();
    await registerSite(t.h, "clinic-f", "f-01", box.mac, { approvalOnly: true });
    const registered = await enroll(box.request);
    const unknown = await enroll({ ...box.request, mac_addresses: [nextMac()] });
    expect(registered).toMatchObject({ status: 200, json: { status: "pending" } });
    expect(registered.json).toEqual(unknown.json);
    expect((await t.h.store.getAppliance("clinic-f", "f-01"))?.status).toBe("pending");
  });
});

describe("approval-only enrollment over TLS", () => {
  it("binds the approved claim's TLS key: a second client with the box's MAC and evidence key is never enrolled, the box is", async () => {
    const box = await simulatedAppliance();
    await registerSite(t.h, "clinic-g", "g-01", box.mac, { approvalOnly: true });
    expect(await enroll(box.request)).toMatchObject({ status: 200, json: { status: "pending" } });
    const claimed = await t.h.admin("/tenants/clinic-g/appliances/g-01");
    const shown = (await claimed.json()) as { tls_key_fingerprint: string | null };
    expect(shown.tls_key_fingerprint).toMatch(/^[0-9a-f]{64}$/);

    // The attacker copies the MAC and the public evidence key, and brings its own TLS key.
    const own = await simulatedAppliance(undefined, box.mac);
    const forged = { ...box.request, tls_csr_pem: own.request.tls_csr_pem };
    expect(await enroll(forged)).toMatchObject({ status: 200, json: { status: "pending" } });
    // The stored claim (what the operator approves) is still the box's.
    expect(await (await t.h.admin("/tenants/clinic-g/appliances/g-01")).json()).toMatchObject({
      status: "pending",
      tls_key_fingerprint: shown.tls_key_fingerprint,
    });

    const approved = await t.h.admin("/tenants/clinic-g/appliances/g-01/approve", {
      evidence_key_fingerprint: box.request.evidence_key_fingerprint,
    });
    expect(approved.status).toBe(200);
    expect(await enroll(forged)).toMatchObject({ status: 200, json: { status: "pending" } });
    expect((await t.h.store.getAppliance("clinic-g", "g-01"))?.status).toBe("approved");

    // The real box asks again and is enrolled.
    const real = await enroll(box.request);
    expect(real).toMatchObject({ status: 200, json: { status: "enrolled" } });
  });
});
