import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicKeyFromBase64, verificationKey, verifyPollResponse } from "#protocol";
import { createCertificateAuthority } from "../pki/index.ts";
import { httpsPost, pollBody, simulatedAppliance } from "../testing/harness.ts";

/** The CLI as another engineer's end-to-end test will use it: real child processes. */
const MAIN = join(import.meta.dirname, "..", "main.ts");
const dir = mkdtempSync(join(tmpdir(), "cp-cli-"));
const dataDir = join(dir, "data");
const tokenFile = join(dir, "admin-token");
const passwordFile = join(dir, "password");
let child: ChildProcess;
let url: string;

const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 60_000 });

beforeAll(async () => {
  writeFileSync(passwordFile, "correct horse battery staple\n", { mode: 0o600 });
  const init = run(
    "init",
    "--data-dir",
    dataDir,
    "--admin-token-file",
    tokenFile,
    "--operator-password-file",
    passwordFile,
  );
  expect(init.status, init.stderr).toBe(0);
  child = spawn(process.execPath, [MAIN, "serve", "--data-dir", dataDir, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const m = /^listening on (https:\/\/\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  rmSync(dir, { recursive: true, force: true });
});

function adminPost(
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const token = readFileSync(tokenFile, "utf8").trim();
  const ca = readFileSync(join(dataDir, "tls", "ca.pem"), "utf8");
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method: "POST",
      ca,
      agent: false,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("control-plane CLI", () => {
  it("initialises a data directory with owner-only secrets", () => {
    for (const secret of [
      "keys/order-signing.key",
      "keys/secret-box.key",
      "tls/ca.key",
      "tls/server.key",
      "control-plane.sqlite",
    ]) {
      expect(statSync(join(dataDir, secret)).mode & 0o077).toBe(0);
    }
    expect(statSync(tokenFile).mode & 0o077).toBe(0);
    expect(readFileSync(join(dataDir, "keys", "order-signing.pub.b64"), "utf8")).toMatch(
      /^[A-Za-z0-9+/]{43}=\n$/,
    );
  });

  it("refuses to initialise twice and exits 2 on usage errors", () => {
    expect(run("init", "--data-dir", dataDir).status).toBe(1);
    expect(run("serve").status).toBe(2);
    expect(run("bogus").status).toBe(2);
    expect(run("serve", "--data-dir", dataDir, "--nope").status).toBe(2);
  }, 120_000);

  it("serves: a site is registered, an appliance enrolls and receives a signed order", async () => {
    const ca = readFileSync(join(dataDir, "tls", "ca.pem"), "utf8");
    const tenantCa = await createCertificateAuthority("clinic-cli CA");
    const probe = await simulatedAppliance();
    const site = await adminPost("/v1/admin/sites", {
      tenant_id: "clinic-cli",
      appliance_id: "cli-01",
      ca_cert_pem: tenantCa.certPem,
      ca_key_pem: tenantCa.keyPem,
      mac_addresses: [probe.mac],
    });
    expect(site.status).toBe(201);
    const appliance = await simulatedAppliance(site.json.enrollment_token as string, probe.mac);
    const enrolled = await httpsPost(`${url}/v1/appliance/enroll`, appliance.request, { ca });
    expect(enrolled.status).toBe(200);
    const cert = (enrolled.json as { client_certificate_pem: string }).client_certificate_pem;
    const order = await adminPost("/v1/admin/tenants/clinic-cli/appliances/cli-01/orders", {
      runbook_id: "RB-SVC-001-restart",
      params: { unit: "sshd" },
    });
    expect(order.status).toBe(201);
    const poll = pollBody("clinic-cli", "cli-01");
    const res = await httpsPost(`${url}/v1/appliance/poll`, poll, {
      ca,
      cert,
      key: appliance.tlsKeyPem,
    });
    const pinned = readFileSync(join(dataDir, "keys", "order-signing.pub.b64"), "utf8").trim();
    const verdict = verifyPollResponse(res.json, {
      key: verificationKey(publicKeyFromBase64(pinned)),
      tenantId: "clinic-cli",
      applianceId: "cli-01",
      nonce: poll.nonce,
      lastOrderSeq: 0,
      seenOrderIds: new Set(),
      runbooks: new Set(["RB-SVC-001-restart"]),
      now: new Date(),
    });
    expect(verdict.ok && verdict.orders[0]?.ok).toBe(true);
  });

  it("stops cleanly on SIGTERM", async () => {
    child.kill("SIGTERM");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(0);
  });
});
