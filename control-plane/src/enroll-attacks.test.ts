import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnrollmentRequest, signDocument } from "#protocol";
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
    const registered = await enroll(attacker.request);
    const unknown = await enroll(attacker.resign({ mac_addresses: [nextMac()] }));
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
    const unknown = await enroll(box.resign({ mac_addresses: [nextMac()] }));
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

    // An attacker holding the evidence key (not the TLS key) signs a claim with its own TLS key.
    const own = await simulatedAppliance(undefined, box.mac);
    const forged = box.resign({ tls_csr_pem: own.request.tls_csr_pem });
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

describe("proof of possession of the evidence key", () => {
  it("a client that knows only the box's public evidence key cannot hold the claim, asked before the box", async () => {
    const box = await simulatedAppliance();
    await registerSite(t.h, "clinic-k", "k-01", box.mac, { approvalOnly: true });
    const own = await simulatedAppliance(undefined, box.mac);
    const refused = (res: Awaited<ReturnType<typeof enroll>>, detail: RegExp) => {
      expect(res).toMatchObject({ status: 400, json: { code: "invalid_request" } });
      expect((res.json as { detail: string }).detail).toMatch(detail);
    };

    // The box's request as sent, with the attacker's CSR: the box's signature no longer covers it.
    refused(
      await enroll({ ...box.request, tls_csr_pem: own.request.tls_csr_pem }),
      /sig is not a signature of this request by evidence_public_key/,
    );
    // The box's public key and fingerprint in a request signed by the attacker's own key.
    const { sig: _sig, ...unsigned } = own.request;
    const claimed = {
      ...unsigned,
      evidence_public_key: box.request.evidence_public_key,
      evidence_key_fingerprint: box.request.evidence_key_fingerprint,
    };
    refused(
      await enroll(signDocument<EnrollmentRequest>(EnrollmentRequest, claimed, own.evidenceSigner)),
      /sig is not a signature of this request by evidence_public_key/,
    );
    // The same claim in the old, unsigned shape.
    const { nonce: _n, requested_at: _at, ...v1 } = claimed;
    const old = await enroll({ ...v1, v: 1 });
    expect(old).toMatchObject({ status: 400 });
    expect((old.json as { detail: string }).detail).toMatch(
      /version 1 \(unsigned\) is no longer accepted: update the agent/,
    );
    // None of them stored a claim.
    expect(await t.h.store.getAppliance("clinic-k", "k-01")).toMatchObject({
      status: "registered",
      evidenceKeyFingerprint: null,
    });

    // The box asks, its claim is approved by the fingerprint on its console, and it is enrolled.
    expect(await enroll(box.request)).toMatchObject({ status: 200, json: { status: "pending" } });
    const approved = await t.h.admin("/tenants/clinic-k/appliances/k-01/approve", {
      evidence_key_fingerprint: box.request.evidence_key_fingerprint,
    });
    expect(approved.status).toBe(200);
    expect(await enroll(box.request)).toMatchObject({ status: 200, json: { status: "enrolled" } });
  });
});
