import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateKeyFromPem, publicKeyOf, verificationKey, verifyChain } from "#protocol";
import {
  type Child,
  eventually,
  httpsJson,
  machineMacs,
  startChild,
} from "../scripts/child-processes.ts";

/**
 * The real pair: the control plane (`control-plane init` + `serve`) and the agent (its entry
 * point, in lab mode so the runbook executor touches nothing on this machine) as child
 * processes, talking HTTPS and mTLS on loopback. The agent enrolls with a one-time token,
 * polls, receives a signed order, executes it, reports, and pushes evidence that the control
 * plane verifies and receipts; the test then verifies the stored chain itself.
 */
const root = join(import.meta.dirname, "..");
const TENANT = "e2e-clinic";
const APPLIANCE = "e2e-clinic-01";

let dir: string;
let controlPlane: Child | undefined;
let agent: Child | undefined;
let base = "";
let caPem = "";
let adminToken = "";

const admin = (path: string, body?: unknown) =>
  httpsJson(`${base}/v1/admin${path}`, { caPem, token: adminToken, body });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-e2e-"));
  const data = join(dir, "cp");
  const init = startChild(
    [
      "control-plane/src/main.ts",
      "init",
      "--data-dir",
      data,
      "--admin-token-file",
      join(dir, "admin-token"),
    ],
    root,
  );
  expect(await new Promise((r) => init.process.once("exit", r))).toBe(0);
  adminToken = (await readFile(join(dir, "admin-token"), "utf8")).trim();
  caPem = await readFile(join(data, "tls", "ca.pem"), "utf8");

  controlPlane = startChild(
    [
      "control-plane/src/main.ts",
      "serve",
      "--data-dir",
      data,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    root,
  );
  const listening = await controlPlane.waitFor(/^listening on https:\/\//);
  base = listening.replace(/^listening on /, "").trim();
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await controlPlane?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("agent and control plane, end to end", () => {
  it("enroll, poll, execute a signed order, and push evidence that both sides verify", async () => {
    const site = await admin("/sites", {
      tenant_id: TENANT,
      appliance_id: APPLIANCE,
      mac_addresses: machineMacs(),
    });
    expect(site.status).toBe(201);
    const token = (site.body as { enrollment_token: string }).enrollment_token;

    const state = join(dir, "agent");
    const config = {
      control_plane_url: base,
      order_signing_public_key: (
        await readFile(join(dir, "cp", "keys", "order-signing.pub.b64"), "utf8")
      ).trim(),
      ca_bundle_path: join(dir, "cp", "tls", "ca.pem"),
      state_dir: state,
      evidence_key_path: join(dir, "agent-keys", "evidence-key.pem"),
      tls_key_path: join(dir, "agent-keys", "tls-key.pem"),
      enrollment_token_path: join(dir, "enrollment-token"),
      catalog_dir: root,
      poll_interval_s: 1,
      poll_jitter: 0,
      max_backoff_s: 2,
    };
    await writeFile(join(dir, "enrollment-token"), token, { mode: 0o600 });
    await writeFile(join(dir, "agent.json"), JSON.stringify(config));
    agent = startChild(["agent/src/main.ts", "--config", join(dir, "agent.json"), "--lab"], root);

    const appliance = `/tenants/${TENANT}/appliances/${APPLIANCE}`;
    await eventually("the appliance to enroll", async () => {
      const res = await admin(appliance);
      return (res.body as { status?: string }).status === "active" ? true : undefined;
    });

    const created = await admin(`${appliance}/orders`, {
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
      tier: "L3",
      ttl_s: 600,
    });
    expect(created.status).toBe(201);
    const orderId = (created.body as { order_id: string }).order_id;

    const order = await eventually("the order to finish", async () => {
      const res = await admin(`/tenants/${TENANT}/orders/${orderId}`);
      const body = res.body as { status: string };
      return ["succeeded", "failed", "rejected", "expired"].includes(body.status)
        ? body
        : undefined;
    });
    expect(order.status).toBe("succeeded");

    // An order for a runbook outside the appliance's allowlist is refused and never run.
    const foreign = await admin(`${appliance}/orders`, {
      runbook_id: "RB-NOPE-001-unknown",
      ttl_s: 600,
    });
    expect(foreign.status).toBe(201);
    const foreignId = (foreign.body as { order_id: string }).order_id;
    const refused = await eventually("the unknown runbook to be refused", async () => {
      const res = await admin(`/tenants/${TENANT}/orders/${foreignId}`);
      const body = res.body as { status: string };
      return body.status === "rejected" ? body : undefined;
    });
    expect(refused.status).toBe("rejected");

    // Evidence: wait until the control plane holds the healing and the refusal, then verify the
    // stored chain ourselves with the appliance's public key, from genesis.
    const evidence = await eventually("the evidence to be receipted", async () => {
      const res = await admin(`${appliance}/evidence?limit=1000`);
      const body = res.body as { bundles: { event: { kind: string; reason?: string } }[] };
      const kinds = body.bundles.map((b) => b.event.kind);
      return kinds.includes("order_result") && kinds.includes("order_rejected") ? body : undefined;
    });
    const evidenceKey = privateKeyFromPem(await readFile(config.evidence_key_path, "utf8"));
    const verdict = verifyChain(evidence.bundles, {
      key: verificationKey(publicKeyOf(evidenceKey)),
      tenantId: TENANT,
      applianceId: APPLIANCE,
    });
    expect(verdict.ok).toBe(true);
    const kinds = evidence.bundles.map((b) => b.event.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "agent_lifecycle",
        "order_accepted",
        "healing_step",
        "order_result",
        "order_rejected",
      ]),
    );
    expect(evidence.bundles.find((b) => b.event.kind === "order_rejected")?.event.reason).toBe(
      "unknown_runbook",
    );

    // The agent also holds the control plane's signed receipts: its status shows nothing queued.
    const status = await eventually("the backlog to drain", async () => {
      const s = JSON.parse(await readFile(join(state, "status.json"), "utf8")) as {
        backlog: number;
      };
      return s.backlog === 0 ? s : undefined;
    });
    expect(status.backlog).toBe(0);

    expect(await agent.stop()).toBe(0);
    agent = undefined;
  }, 120_000);
});
