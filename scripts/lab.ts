/**
 * The lab (`npm start`): the embedded default on one machine, no cloud account, labelled LAB.
 *
 * It initialises a control plane (SQLite) in a fresh data directory and serves it on loopback,
 * registers a lab clinic with a one-time enrollment token, and starts the real agent in lab
 * mode (simulated checks and runbook executor: nothing on this machine is changed). The agent
 * enrolls over TLS, polls over mTLS, runs a signed order, refuses an order outside its runbook
 * allowlist, and pushes its evidence, which the control plane verifies and receipts. The lab
 * then verifies the stored chain itself with the appliance key and shows that a rewritten
 * bundle is caught. Options: --keep leaves both running until Ctrl-C; --data-dir DIR keeps
 * the lab's files there instead of a temporary folder.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type EvidenceBundle,
  privateKeyFromPem,
  publicKeyOf,
  verificationKey,
  verifyChain,
} from "#protocol";
import { type Child, eventually, httpsJson, machineMacs, startChild } from "./child-processes.ts";

const TENANT = "lab-clinic";
const APPLIANCE = "lab-clinic-01";
const root = resolve(import.meta.dirname, "..");
const say = (line: string) => process.stdout.write(`[lab] ${line}\n`);

const { values } = parseArgs({
  options: { keep: { type: "boolean", default: false }, "data-dir": { type: "string" } },
});
const dir = values["data-dir"]
  ? resolve(values["data-dir"])
  : await mkdtemp(join(tmpdir(), "msp-lab-"));
const children: Child[] = [];

async function main(): Promise<void> {
  say("LAB MODE: a real control plane and a real agent on this machine; the agent's checks and");
  say("runbook executor are simulated, so nothing on this machine is changed.");
  const data = join(dir, "control-plane");
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
  const initCode = await new Promise((r) => init.process.once("exit", r));
  if (initCode !== 0) throw new Error(`control-plane init failed:\n${init.output.join("\n")}`);
  const caPem = await readFile(join(data, "tls", "ca.pem"), "utf8");
  const token = (await readFile(join(dir, "admin-token"), "utf8")).trim();

  const controlPlane = startChild(
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
  children.push(controlPlane);
  const base = (await controlPlane.waitFor(/^listening on https:\/\//)).replace(
    "listening on ",
    "",
  );
  say(`control plane (SQLite) at ${base}, data in ${data}`);
  const admin = (path: string, body?: unknown) =>
    httpsJson(`${base}/v1/admin${path}`, { caPem, token, body });

  const site = await admin("/sites", {
    tenant_id: TENANT,
    appliance_id: APPLIANCE,
    mac_addresses: machineMacs(),
  });
  if (site.status !== 201)
    throw new Error(`site registration failed: ${JSON.stringify(site.body)}`);
  say(`registered ${TENANT}/${APPLIANCE} with a one-time enrollment token`);

  const agentDir = join(dir, "agent");
  const config = {
    control_plane_url: base,
    order_signing_public_key: (
      await readFile(join(data, "keys", "order-signing.pub.b64"), "utf8")
    ).trim(),
    ca_bundle_path: join(data, "tls", "ca.pem"),
    state_dir: join(agentDir, "state"),
    evidence_key_path: join(agentDir, "keys", "evidence-key.pem"),
    tls_key_path: join(agentDir, "keys", "tls-key.pem"),
    enrollment_token_path: join(agentDir, "enrollment-token"),
    catalog_dir: root,
    poll_interval_s: 2,
    max_backoff_s: 5,
  };
  const { enrollment_token } = site.body as { enrollment_token: string };
  await writeFileDeep(config.enrollment_token_path, enrollment_token);
  await writeFileDeep(join(agentDir, "config.json"), JSON.stringify(config, null, 2));
  const agent = startChild(
    ["agent/src/main.ts", "--config", join(agentDir, "config.json"), "--lab"],
    root,
  );
  children.push(agent);

  const appliance = `/tenants/${TENANT}/appliances/${APPLIANCE}`;
  const enrolled = await eventually("enrollment", async () => {
    const res = await admin(appliance);
    const body = res.body as { status?: string; evidence_key_fingerprint?: string };
    return body.status === "active" ? body : undefined;
  });
  say(
    `agent enrolled; evidence key fingerprint ${enrolled.evidence_key_fingerprint?.slice(0, 16)}…`,
  );

  const order = async (runbook_id: string, params: Record<string, string>) => {
    const res = await admin(`${appliance}/orders`, { runbook_id, params, tier: "L3", ttl_s: 600 });
    const { order_id, seq } = res.body as { order_id: string; seq: number };
    const done = await eventually(`order ${seq}`, async () => {
      const r = await admin(`/tenants/${TENANT}/orders/${order_id}`);
      const b = r.body as { status: string };
      return ["succeeded", "failed", "rejected", "expired"].includes(b.status) ? b : undefined;
    });
    say(`order ${seq} ${runbook_id} ${JSON.stringify(params)} → ${done.status}`);
  };
  await order("RB-SERVICE-001-crash", { unit: "chronyd.service" });
  await order("RB-NOPE-001-unknown", {});

  const evidence = await eventually("receipted evidence", async () => {
    const res = await admin(`${appliance}/evidence?limit=1000`);
    const body = res.body as { bundles: EvidenceBundle[] };
    const kinds = body.bundles.map((b) => b.event.kind);
    return kinds.includes("order_rejected") ? body.bundles : undefined;
  });
  const key = verificationKey(
    publicKeyOf(privateKeyFromPem(await readFile(config.evidence_key_path, "utf8"))),
  );
  const audit = { key, tenantId: TENANT, applianceId: APPLIANCE };
  const verdict = verifyChain(evidence, audit);
  say(
    `auditor: ${evidence.length} bundles held by the control plane (${[...new Set(evidence.map((b) => b.event.kind))].join(", ")}); chain ${verdict.ok ? "intact from genesis" : `BROKEN: ${verdict.break.reason}`}`,
  );
  const rewritten = evidence.map((b) =>
    b.seq === 2 ? { ...b, recorded_at: "2026-01-01T00:00:00Z" } : b,
  );
  const caught = verifyChain(rewritten, audit);
  say(
    `auditor: after rewriting bundle 2, ${caught.ok ? "NOT DETECTED" : `detected ${caught.break.reason} at seq ${caught.break.seq}`}`,
  );
  if (!verdict.ok || caught.ok) process.exitCode = 1;

  if (values.keep) {
    say("running; Ctrl-C stops both");
    await new Promise((r) => process.once("SIGINT", r));
  }
}

async function writeFileDeep(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, content, { mode: 0o600 });
}

try {
  await main();
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children.reverse()) await child.stop();
  if (!values["data-dir"]) await rm(dir, { recursive: true, force: true });
}
