import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { APPLIANCE_API, randomNonce } from "#protocol";
import { isAgentError } from "./errors.ts";
import { type AgentWorld, createAgentWorld } from "./testing/fixture.ts";
import { createTestPki } from "./testing/test-pki.ts";
import { httpsTransport } from "./transport.ts";

let world: AgentWorld;
afterEach(async () => world?.cleanup());

const poll = {
  v: 1 as const,
  type: "poll_request" as const,
  tenant_id: "clinic-a",
  appliance_id: "clinic-a-01",
  nonce: randomNonce(),
  last_order_seq: 0,
  evidence_head: { seq: 0, hash: "0".repeat(64) },
  agent_version: "0.1.0",
  sent_at: new Date().toISOString(),
};

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
};

describe("the HTTPS transport", () => {
  it("trusts only the pinned CA bundle, never the system CAs", async () => {
    world = await createAgentWorld();
    const otherCa = await createTestPki("Other");
    const transport = httpsTransport({
      baseUrl: world.cp.url,
      caPem: otherCa.caPem,
      timeoutMs: 5_000,
    });
    const error = await failure(
      transport.post(APPLIANCE_API.enroll, {} as never, AbortSignal.timeout(5_000)),
    );
    expect(isAgentError(error, "unreachable")).toBe(true);
    expect(String((error as Error).message)).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|self.signed|unable to verify/i,
    );
    expect(world.cp.requests.size).toBe(0);
  });

  it("does not send an mTLS route without a client certificate", async () => {
    world = await createAgentWorld();
    const transport = httpsTransport({
      baseUrl: world.cp.url,
      caPem: world.pki.caPem,
      timeoutMs: 5_000,
    });
    const error = await failure(transport.post(APPLIANCE_API.poll, poll));
    expect(isAgentError(error, "unreachable")).toBe(true);
    expect(world.cp.requests.size).toBe(0);
  });

  it("hands back the RFC 9457 problem of a refused request", async () => {
    world = await createAgentWorld();
    const stranger = await createTestPki("Stranger");
    // A certificate from a CA the control plane does not trust, for a key it never saw.
    const { generateKeyPairSync } = await import("node:crypto");
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const keyPem = key.export({ format: "pem", type: "pkcs8" }).toString();
    const { createCsrPem } = await import("./csr.ts");
    const certPem = await stranger.issueClientCert(
      await createCsrPem(keyPem, "intruder"),
      "intruder",
    );
    const transport = httpsTransport({
      baseUrl: world.cp.url,
      caPem: world.pki.caPem,
      clientKeyPem: keyPem,
      clientCertPem: certPem,
      timeoutMs: 5_000,
    });
    const answer = await transport.post(APPLIANCE_API.poll, poll);
    expect(answer).toMatchObject({
      ok: false,
      status: 401,
      problem: { code: "client_certificate_required" },
    });
  });

  it("refuses a 2xx answer that is not JSON or is too large", async () => {
    const pki = await createTestPki();
    let body = "not json";
    const server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const transport = httpsTransport({ baseUrl: url, caPem: pki.caPem, timeoutMs: 5_000 });
      const notJson = await failure(transport.post(APPLIANCE_API.enroll, {} as never));
      expect(isAgentError(notJson, "bad_response")).toBe(true);
      body = `"${"x".repeat(5 * 1024 * 1024)}"`;
      const tooLarge = await failure(transport.post(APPLIANCE_API.enroll, {} as never));
      expect(isAgentError(tooLarge, "bad_response")).toBe(true);
      expect((tooLarge as Error).message).toMatch(/too large/);
    } finally {
      server.close();
    }
  });

  it("keeps one mTLS connection for poll after poll and resumes the session on reconnect", async () => {
    const pki = await createTestPki();
    const { generateKeyPairSync } = await import("node:crypto");
    const keyPem = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    const { createCsrPem } = await import("./csr.ts");
    const certPem = await pki.issueClientCert(
      await createCsrPem(keyPem, "clinic-a-01"),
      "clinic-a-01",
    );
    const connections: (boolean | undefined)[] = [];
    const server = createServer(
      {
        key: pki.serverKeyPem,
        cert: pki.serverCertPem,
        ca: pki.caPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      },
    );
    // TCP connections as the server sees them; whether each resumed a TLS session where the
    // runtime reports it (Bun's TLS server does not).
    let tcp = 0;
    server.on("connection", () => tcp++);
    server.on("secureConnection", (socket) => connections.push(socket.isSessionReused?.()));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const transport = httpsTransport({
      baseUrl: url,
      caPem: pki.caPem,
      clientKeyPem: keyPem,
      clientCertPem: certPem,
      timeoutMs: 5_000,
    });
    try {
      for (let i = 0; i < 10; i++) {
        const answer = await (i % 2
          ? transport.post(APPLIANCE_API.evidence, {} as never)
          : transport.post(APPLIANCE_API.poll, {} as never));
        expect(answer.ok).toBe(true);
      }
      expect(transport.stats()).toMatchObject({ handshakes: 1, requests: 10 });
      expect(tcp).toBe(1);
      // The server drops the idle connection: the next request reconnects, resuming the session.
      server.closeAllConnections();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await transport.post(APPLIANCE_API.poll, {} as never)).ok).toBe(true);
      expect(tcp).toBe(2);
      expect(transport.stats()).toMatchObject({ handshakes: 2, requests: 11 });
      if (!process.versions.bun) {
        expect(transport.stats().resumed).toBe(1);
        expect(connections).toEqual([false, true]);
      }
    } finally {
      transport.close();
      server.close();
    }
  });
});
