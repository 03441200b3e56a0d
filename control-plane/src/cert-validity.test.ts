import { X509Certificate } from "node:crypto";
import { Agent, request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollBody, registerSite, simulatedAppliance } from "./testing/harness.ts";
import { startTlsHarness, type TlsHarness } from "./testing/tls-server.ts";

/**
 * A client certificate's validity is judged on every request, also on a kept-alive connection
 * whose certificate the identity middleware has already read and verified: the control plane's
 * clock (moved by the test) passing notAfter refuses the next request on that same connection.
 */
let at = Date.now();
let t: TlsHarness;

beforeAll(async () => {
  t = await startTlsHarness("cp-cert-validity-", { clock: () => new Date(at) });
});
afterAll(() => t.close());

/** A POST on `agent`, with whether it went out on a connection used before. */
function post(agent: Agent, path: string, body: unknown) {
  return new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(`${t.server.url}${path}`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe("client certificate validity on a reused connection", () => {
  it("refuses the next request on the same connection once notAfter has passed", async () => {
    const probe = await simulatedAppliance();
    const reg = await registerSite(t.h, "clinic-v", "v-01", probe.mac);
    const box = await simulatedAppliance(reg.token, probe.mac);
    const enrolled = await t.h.app.request("/v1/appliance/enroll", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(box.request),
    });
    const { client_certificate_pem } = (await enrolled.json()) as {
      client_certificate_pem: string;
    };
    const notAfter = Date.parse(new X509Certificate(client_certificate_pem).validTo);
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: t.ca,
      cert: client_certificate_pem,
      key: box.tlsKeyPem,
    });
    try {
      const poll = () => post(agent, "/v1/appliance/poll", pollBody("clinic-v", "v-01"));
      expect(await poll()).toEqual({ status: 200, reused: false });
      at = notAfter;
      expect(await poll()).toEqual({ status: 200, reused: true });
      at = notAfter + 1000;
      expect(await poll()).toEqual({ status: 403, reused: true });
    } finally {
      agent.destroy();
    }
  });
});
