import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_APPLIANCE_BODY_BYTES } from "#protocol";
import {
  createCertificateAuthority,
  createClientCsr,
  issueServerCertificate,
  signClientCsr,
} from "./pki/index.ts";
import { type RunningServer, startServer } from "./server.ts";
import { openSqliteStore } from "./store/index.ts";
import {
  createHarness,
  type Harness,
  httpsPost,
  pollBody,
  registerSite,
  simulatedAppliance,
} from "./testing/harness.ts";

/** The appliance API over real TLS and mTLS on loopback: the refusals the trust model needs. */
const dir = mkdtempSync(join(tmpdir(), "cp-tls-"));
let h: Harness;
let server: RunningServer;
let serverCa: string;

beforeAll(async () => {
  h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")));
  const ca = await createCertificateAuthority("test server CA");
  serverCa = ca.certPem;
  const tls = await issueServerCertificate(ca, { dns: ["localhost"], ip: ["127.0.0.1"] });
  server = await startServer(h.app, tls, { port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await server.close();
  await h.store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function enrollOverTls(
  tenantId: string,
  applianceId: string,
  ca?: { certPem: string; keyPem: string },
) {
  const probe = await simulatedAppliance();
  const reg = await registerSite(h, tenantId, applianceId, probe.mac, ca ? { ca } : {});
  const appliance = await simulatedAppliance(reg.token, probe.mac);
  const res = await httpsPost(`${server.url}/v1/appliance/enroll`, appliance.request, {
    ca: serverCa,
  });
  expect(res.status).toBe(200);
  const body = res.json as { status: string; client_certificate_pem: string };
  expect(body.status).toBe("enrolled");
  return {
    tenantCa: reg.ca,
    tls: { ca: serverCa, cert: body.client_certificate_pem, key: appliance.tlsKeyPem },
  };
}

describe("appliance API over mTLS", () => {
  it("enrolls without a client certificate, then polls with the issued one", async () => {
    const { tls } = await enrollOverTls("clinic-t", "t-01");
    const res = await httpsPost(
      `${server.url}/v1/appliance/poll`,
      pollBody("clinic-t", "t-01"),
      tls,
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ type: "poll_response", order_seq: 0 });
  });

  it("refuses TLS renegotiation: a connection keeps the client certificate of its handshake", async () => {
    // The identity middleware reads the peer certificate once per connection; a renegotiation
    // could otherwise present another certificate on a connection already read.
    const { tls } = await enrollOverTls("clinic-r", "r-01");
    const socket = connect({
      host: "127.0.0.1",
      port: server.port,
      servername: "localhost",
      maxVersion: "TLSv1.2",
      ...tls,
    });
    await once(socket, "secureConnect");
    socket.resume(); // the refusal ends in a 400 and a close, read to the end
    const outcome = await new Promise<string>((resolve) => {
      socket.once("error", () => resolve("refused"));
      socket.once("close", () => resolve("refused"));
      const started = socket.renegotiate({ rejectUnauthorized: true }, (error) =>
        resolve(error ? "refused" : "renegotiated"),
      );
      if (!started) resolve("refused");
    });
    socket.destroy();
    expect(outcome).toBe("refused");
  });

  it("refuses no certificate, another CA's certificate and an unenrolled certificate of the right CA", async () => {
    const { tenantCa } = await enrollOverTls("clinic-u", "u-01");
    const url = `${server.url}/v1/appliance/poll`;
    const none = await httpsPost(url, pollBody("clinic-u", "u-01"), { ca: serverCa });
    expect(none).toMatchObject({ status: 401, json: { code: "unauthenticated" } });
    expect(none.contentType).toMatch(/problem\+json/);

    const otherCa = await createCertificateAuthority("attacker CA");
    const csr = await createClientCsr("u-01.clinic-u");
    const foreign = await signClientCsr(
      otherCa,
      csr.csrPem,
      { tenantId: "clinic-u", applianceId: "u-01" },
      1,
    );
    const r1 = await httpsPost(url, pollBody("clinic-u", "u-01"), {
      ca: serverCa,
      cert: foreign.certPem,
      key: csr.keyPem,
    });
    expect(r1).toMatchObject({ status: 401, json: { code: "unauthenticated" } });

    const unbound = await signClientCsr(
      tenantCa,
      csr.csrPem,
      { tenantId: "clinic-u", applianceId: "u-01" },
      1,
    );
    const r2 = await httpsPost(url, pollBody("clinic-u", "u-01"), {
      ca: serverCa,
      cert: unbound.certPem,
      key: csr.keyPem,
    });
    expect(r2).toMatchObject({ status: 401, json: { code: "unauthenticated" } });
  });

  it("refuses a revoked appliance at once, also on a resumed TLS session", async () => {
    const { tls } = await enrollOverTls("clinic-v", "v-01");
    const url = `${server.url}/v1/appliance/poll`;
    const first = await httpsPost(url, pollBody("clinic-v", "v-01"), tls);
    expect(first.status).toBe(200);
    expect((await h.admin("/tenants/clinic-v/appliances/v-01/revoke", {})).status).toBe(200);
    const resumed = await httpsPost(url, pollBody("clinic-v", "v-01"), {
      ...tls,
      ...(first.session ? { session: first.session } : {}),
    });
    expect(resumed.reused).toBe(true);
    expect(resumed).toMatchObject({ status: 403, json: { code: "forbidden" } });
  });

  it("refuses a cross-tenant body from a valid certificate", async () => {
    const a = await enrollOverTls("clinic-x", "x-01");
    await enrollOverTls("clinic-y", "y-01");
    const res = await httpsPost(
      `${server.url}/v1/appliance/poll`,
      pollBody("clinic-y", "y-01"),
      a.tls,
    );
    expect(res).toMatchObject({ status: 403, json: { code: "forbidden" } });
  });

  it("answers malformed and oversized bodies with a 4xx problem", async () => {
    const { tls } = await enrollOverTls("clinic-z", "z-01");
    const bad = await httpsPost(`${server.url}/v1/appliance/evidence`, null, tls, '{"v":1');
    expect(bad).toMatchObject({ status: 400, json: { code: "invalid_request" } });
    const big = Buffer.alloc(MAX_APPLIANCE_BODY_BYTES + 1, 0x20);
    const huge = await httpsPost(`${server.url}/v1/appliance/evidence`, null, tls, big);
    expect(huge).toMatchObject({ status: 413, json: { code: "payload_too_large" } });
    const replay = await httpsPost(`${server.url}/v1/appliance/enroll`, { v: 1 }, { ca: serverCa });
    expect(replay).toMatchObject({ status: 400, json: { code: "invalid_request" } });
  });
});
