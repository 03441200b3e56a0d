/**
 * The lab (`npm start`): the embedded default on one machine, no cloud account, labelled LAB.
 *
 * It initialises a control plane (SQLite) in a fresh data directory and serves it on loopback,
 * registers a lab clinic with a one-time enrollment token, and starts the real agent in lab
 * mode (its six drift checks and its healer run against a simulated NixOS appliance, the lab
 * host: nothing on this machine is read or changed). The lab injects drift into the lab host
 * (SSH opened to everyone), shows the firewall check naming it and the L1 heal. The agent
 * enrolls over TLS, polls over mTLS, runs a signed order, refuses an order outside its runbook
 * allowlist, and pushes its evidence, which the control plane verifies and receipts. The lab
 * then verifies the stored chain itself with the appliance key and shows that a rewritten
 * bundle is caught. Options: --keep leaves both running until Ctrl-C; --data-dir DIR keeps
 * the lab's files there instead of a temporary folder.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type EvidenceBundle,
  privateKeyFromPem,
  publicKeyOf,
  verificationKey,
  verifyChain,
} from "#protocol";
import { verifyExport } from "../verifier/verify-export.ts";
import { eventually } from "./child-processes.ts";
import { type LabPair, startLabPair } from "./lab-pair.ts";

const TENANT = "lab-clinic";
const APPLIANCE = "lab-clinic-01";
const say = (line: string) => process.stdout.write(`[lab] ${line}\n`);

const { values } = parseArgs({
  options: { keep: { type: "boolean", default: false }, "data-dir": { type: "string" } },
});
const dir = values["data-dir"]
  ? resolve(values["data-dir"])
  : await mkdtemp(join(tmpdir(), "msp-lab-"));
let pair: LabPair | undefined;

async function main(): Promise<void> {
  say("LAB MODE: a real control plane and a real agent on this machine; the agent's checks and");
  say("healer see a simulated NixOS appliance: nothing on this machine is read or changed.");
  pair = await startLabPair({ dir, tenantId: TENANT, applianceId: APPLIANCE, pollIntervalS: 2 });
  const { admin } = pair;
  say(`control plane (SQLite) at ${pair.baseUrl}, data in ${pair.controlPlaneDir}`);
  say(`registered ${TENANT}/${APPLIANCE} with a one-time enrollment token; agent started`);
  const enrolled = await pair.enrolled();
  say(
    `agent enrolled; evidence key fingerprint ${enrolled.evidence_key_fingerprint.slice(0, 16)}…`,
  );
  const appliance = `/tenants/${TENANT}/appliances/${APPLIANCE}`;

  for (const [runbook_id, params] of [
    ["RB-SERVICE-001-crash", { unit: "chronyd.service" }],
    ["RB-NOPE-001-unknown", {}],
  ] as const) {
    const done = await pair.runOrder({ runbook_id, params });
    say(`order ${done.seq} ${runbook_id} ${JSON.stringify(params)} → ${done.status}`);
  }

  const checkResults = async () => {
    const res = await admin(`${appliance}/evidence?limit=1000`);
    return (res.body as { bundles: EvidenceBundle[] }).bundles.flatMap((b) =>
      b.event.kind === "check_result" ? [{ seq: b.seq, event: b.event }] : [],
    );
  };
  const first = await eventually("the first six check results", async () => {
    const results = await checkResults();
    return results.length >= 6 ? results.slice(0, 6) : undefined;
  });
  say(`checks: ${first.map((r) => `${r.event.check_id} ${r.event.status}`).join(", ")}`);
  pair.injectDrift({ kind: "firewall_ssh_exposed" });
  say("injected drift into the lab host: the SSH rule no longer limits the source network");
  const seen = await eventually("the firewall check to report the drift", async () =>
    (await checkResults()).find(
      (r) =>
        r.seq > (first.at(-1)?.seq ?? 0) &&
        r.event.check_id === "firewall" &&
        r.event.status === "drift",
    ),
  );
  const finding = seen.event.findings.find((f) => f.code === "ssh_exposed");
  say(
    `firewall check: drift ${finding?.code} at ${finding?.subject} (${seen.event.citations?.join(", ")})`,
  );
  const healed = await eventually("the L1 heal", async () => {
    const res = await admin(`${appliance}/evidence?limit=1000`);
    const bundles = (res.body as { bundles: EvidenceBundle[] }).bundles;
    return bundles.find(
      (b) => b.event.kind === "healing_attempt" && b.event.runbook_id === "RB-FIREWALL-001-drift",
    )?.event;
  });
  say(
    `healer: L1 rule → RB-FIREWALL-001-drift → ${healed.kind === "healing_attempt" ? healed.outcome : "?"} (baseline ruleset reloaded atomically, firewall check re-run)`,
  );
  pair.injectDrift({ kind: "reset" });

  const evidence = await eventually("receipted evidence", async () => {
    const res = await admin(`${appliance}/evidence?limit=1000`);
    const body = res.body as { bundles: EvidenceBundle[] };
    const kinds = body.bundles.map((b) => b.event.kind);
    return kinds.includes("order_rejected") ? body.bundles : undefined;
  });
  const key = verificationKey(
    publicKeyOf(privateKeyFromPem(await readFile(pair.agentConfig.evidence_key_path, "utf8"))),
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

  // The evidence vault: a signed checkpoint the appliance verified, segments archived (to a
  // local directory labelled NOT WORM in the lab), and an auditor export verified offline.
  const verified = await eventually("a checkpoint verified by the appliance", async () => {
    const res = await admin(`${appliance}/evidence?limit=1000`);
    const body = res.body as { bundles: EvidenceBundle[] };
    return body.bundles.find((b) => b.event.kind === "checkpoint_verified");
  });
  if (verified.event.kind === "checkpoint_verified") {
    say(
      `appliance: verified signed checkpoint, tree size ${verified.event.tree_size}, root ${verified.event.root_hash.slice(0, 16)}…`,
    );
  }
  const exported = await admin(`${appliance}/exports`, {
    from: "2000-01-01T00:00:00Z",
    to: "2100-01-01T00:00:00Z",
  });
  const { export_id } = exported.body as { export_id: string };
  const exportDir = join(pair.controlPlaneDir, "exports", TENANT, APPLIANCE, export_id);
  const summary = await verifyExport(exportDir);
  say(
    `auditor: export ${exportDir}: ${summary.signatures_verified} signatures, ${summary.checkpoints_verified} checkpoints, ${summary.inclusion_proofs_verified} inclusion proofs → ${summary.ok ? "OK" : `FAILED ${summary.first_failure?.reason}`}`,
  );
  say(
    `vault: segments and checkpoints go to ${join(pair.controlPlaneDir, "vault-not-worm")} (NOT WORM: lab only; production uses S3 Object Lock)`,
  );
  if (!summary.ok) process.exitCode = 1;

  if (values.keep) {
    say("running; Ctrl-C stops both");
    await new Promise((r) => process.once("SIGINT", r));
  }
}

try {
  await main();
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await pair?.stop();
  if (!values["data-dir"]) await rm(dir, { recursive: true, force: true });
}
