/**
 * The lab (`npm start`): the embedded default on one machine, no cloud account, labelled LAB.
 *
 * It initialises a control plane (SQLite) in a fresh data directory and serves it on loopback,
 * registers a lab clinic with two appliances (one-time enrollment tokens) and starts the real
 * agent twice in lab mode (their six drift checks and healers run against simulated NixOS
 * appliances, the lab hosts: nothing on this machine is read or changed). The agents enroll over
 * TLS, poll over mTLS, run a signed order and refuse one outside their runbook allowlist. The lab
 * then injects a sequence of drifts (a changed firewall rule and a stopped service on the first
 * appliance, a stale backup and a failed upgrade on the second) and shows each detected and healed
 * by L1, except the upgrade: its switch fails, is rolled back, and the incident goes to the control
 * plane, which (no L2 model configured) queues it for a person (L3). It verifies the stored chain,
 * archives to the local NOT-WORM vault, writes the month's compliance packet and verifies an
 * evidence export offline. It prints the dashboard URL, an operator login and where the packet is.
 * Options: --keep leaves everything running until Ctrl-C; --data-dir DIR keeps the lab's files.
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
import { injectDrift, readLabStateFile, writeLabStateFile } from "../agent/src/host/lab/index.ts";
import { parsePinsFile } from "../verifier/pins.ts";
import { verifyExport } from "../verifier/verify-export.ts";
import { eventually } from "./child-processes.ts";
import { auditorPinsFile, type LabAgent, type LabPair, startLabPair } from "./lab-pair.ts";

const TENANT = "lab-clinic";
const APPLIANCE = "lab-clinic-01";
const SECOND = "lab-clinic-02";
const say = (line: string) => process.stdout.write(`[lab] ${line}\n`);

const { values } = parseArgs({
  options: { keep: { type: "boolean", default: false }, "data-dir": { type: "string" } },
});
const dir = values["data-dir"]
  ? resolve(values["data-dir"])
  : await mkdtemp(join(tmpdir(), "msp-lab-"));
let pair: LabPair | undefined;
let second: LabAgent | undefined;

async function main(): Promise<void> {
  say("LAB MODE: a real control plane and two real agents on this machine; the agents' checks");
  say("and healers see simulated NixOS appliances: nothing on this machine is read or changed.");
  // Accelerated: polls every 2 s, checks every 10 s (the agent's minimum), the vault every 2 s,
  // and a maintenance window that is always open so the disruptive upgrade runbook runs at once.
  pair = await startLabPair({
    dir,
    tenantId: TENANT,
    applianceId: APPLIANCE,
    pollIntervalS: 2,
    checkIntervalS: 10,
    agentHealing: {
      maintenance_window: {
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        start: "00:00",
        duration_minutes: 1440,
        time_zone: "UTC",
      },
    },
  });
  const { admin } = pair;
  say(`control plane (SQLite) at ${pair.baseUrl}, data in ${pair.controlPlaneDir}`);
  say(`registered ${TENANT}/${APPLIANCE} with a one-time enrollment token; agent started`);
  second = await pair.addAgent(SECOND);
  say(`registered ${TENANT}/${SECOND} with a one-time enrollment token; agent started`);
  const enrolled = await pair.enrolled();
  say(
    `agent enrolled; evidence key fingerprint ${enrolled.evidence_key_fingerprint.slice(0, 16)}…`,
  );
  await eventually(`${SECOND} to enroll`, async () => {
    const body = (await admin(`/tenants/${TENANT}/appliances/${SECOND}`)).body as {
      status?: string;
    };
    return body.status === "active" ? true : undefined;
  });
  say(`second agent (${SECOND}) enrolled`);
  const appliance = `/tenants/${TENANT}/appliances/${APPLIANCE}`;
  const bundlesOf = async (id: string) =>
    (
      (await admin(`/tenants/${TENANT}/appliances/${id}/evidence?limit=1000`)).body as {
        bundles: EvidenceBundle[];
      }
    ).bundles;

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

  // A stopped service on the first appliance; a stale backup and a failed upgrade on the second
  // (someone switched it to an unapproved generation, and switching back fails once: the
  // runbook's rollback runs and the agent hands the incident to the control plane).
  pair.injectDrift({ kind: "service_stopped", unit: "chronyd.service" });
  say("injected drift: chronyd.service stopped on lab-clinic-01");
  const state = readLabStateFile(second.labStateFile);
  state.healing.fail_once = ["switch-to-configuration"];
  writeLabStateFile(second.labStateFile, state);
  const secondDrift = second.labStateFile;
  injectDrift(secondDrift, { kind: "backup_stale", job: "clinic-data" });
  injectDrift(secondDrift, { kind: "generation_mismatch" });
  say("injected drift: stale backup and an unapproved NixOS generation on lab-clinic-02");
  const heal = (id: string, check: string, outcomes: readonly string[]) =>
    eventually(`the ${check} heal on ${id}`, async () => {
      const found = (await bundlesOf(id)).find(
        (b) =>
          b.event.kind === "healing_attempt" &&
          b.event.check_id === check &&
          outcomes.includes(b.event.outcome),
      );
      return found?.event.kind === "healing_attempt" ? found.event : undefined;
    });
  for (const [id, check, outcomes] of [
    [APPLIANCE, "services", ["healed"]],
    [SECOND, "backups", ["healed"]],
    [SECOND, "patching", ["reverted", "failed"]],
  ] as const) {
    const h = await heal(id, check, outcomes);
    say(`healer (${id}): ${check} drift → L1 ${h.runbook_id ?? "?"} → ${h.outcome}`);
  }
  const escalated = await eventually("the failed upgrade to reach the L3 queue", async () => {
    const rows = (await admin(`/tenants/${TENANT}/escalations`)).body as {
      incident_id: string;
      appliance_id: string;
      incident: { check_id: string };
    }[];
    return rows.find((r) => r.appliance_id === SECOND && r.incident.check_id === "patching");
  });
  say(
    `control plane: incident ${escalated.incident_id.slice(0, 8)} (patching, rolled back on ${SECOND}) → L3 queue (no L2 model configured); approve or reject it on the dashboard`,
  );

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
  await eventually("a checkpoint verified by the second appliance", async () =>
    (await bundlesOf(SECOND)).find((b) => b.event.kind === "checkpoint_verified"),
  );

  // The month is closed for the packet: the agents stop, so what the packet counts is final.
  await Promise.all([pair.agent.stop(), second.agent.stop()]);
  say("agents stopped; the month's evidence is complete for the packet");
  // Two vault passes (every 2 s here) archive the last checkpoints to the NOT-WORM directory.
  await new Promise((r) => setTimeout(r, 4_500));
  const month = new Date().toISOString().slice(0, 7);
  const packet = await admin(`/tenants/${TENANT}/packets`, { month });
  if (packet.status !== 202) throw new Error(`packet: ${JSON.stringify(packet.body)}`);
  // The packet is made by a job: the request answered at once with its id.
  const { job_id } = packet.body as { job_id: string };
  const job = await eventually("the packet job is done", async () => {
    const { body } = await admin(`/tenants/${TENANT}/packet-jobs/${job_id}`);
    const state = body as { status: string; version: number | null; error: string | null };
    if (state.status === "failed") throw new Error(`packet job failed: ${state.error}`);
    return state.status === "done" ? state : undefined;
  });
  const version = job.version;
  const packetDir = join(pair.controlPlaneDir, "packets", TENANT, month, `v${version}`);
  const manifest = JSON.parse(await readFile(join(packetDir, "manifest.json"), "utf8")) as {
    counts: Record<string, number>;
  };
  say(
    `packet: ${TENANT} ${month} → ${packetDir} (packet.pdf, packet.md, signed manifest.json; ${Object.entries(
      manifest.counts,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
  );

  // The auditor's pins, from what each appliance shows itself (status, pinned configuration).
  const pinsFile = await auditorPinsFile(
    [
      { applianceId: APPLIANCE, agentConfig: pair.agentConfig },
      ...(second ? [{ applianceId: SECOND, agentConfig: second.agentConfig }] : []),
    ],
    TENANT,
    join(pair.controlPlaneDir, "auditor-pins.json"),
  );
  const parsedPins = parsePinsFile(await readFile(pinsFile, "utf8"));
  if (!parsedPins.ok) throw new Error(parsedPins.problem);
  say(
    `auditor: pins from the appliances themselves in ${pinsFile} (verify-export DIR --pins FILE)`,
  );
  for (const id of [APPLIANCE, SECOND]) {
    const exported = await admin(`/tenants/${TENANT}/appliances/${id}/exports`, {
      from: "2000-01-01T00:00:00Z",
      to: "2100-01-01T00:00:00Z",
    });
    const { export_id } = exported.body as { export_id: string };
    const exportDir = join(pair.controlPlaneDir, "exports", TENANT, id, export_id);
    const summary = await verifyExport(exportDir, { pins: parsedPins.pins });
    say(
      `auditor: export ${exportDir}: ${summary.signatures_verified} signatures, ${summary.checkpoints_verified} checkpoints, ${summary.inclusion_proofs_verified} inclusion proofs → ${summary.ok ? "OK" : `FAILED ${summary.first_failure?.reason}`}`,
    );
    if (!summary.ok) process.exitCode = 1;
  }
  say(
    `vault: segments and checkpoints go to ${join(pair.controlPlaneDir, "vault-not-worm")} (NOT WORM: lab only; production uses S3 Object Lock)`,
  );
  say(
    `dashboard: ${pair.baseUrl}/dashboard (LAB; the server CA is ${join(pair.controlPlaneDir, "tls", "ca.pem")})`,
  );
  say(
    `admin login: ${pair.operator.username} / ${pair.operator.password} (TOTP secret, base32: ${pair.operator.totpSecret ?? "none"})`,
  );
  for (const login of await labLogins(pair)) say(login);
  say(`packet: ${join(packetDir, "packet.pdf")}`);
  if (!values.keep) say("the lab stops now; `npm start -- --keep` keeps the control plane up");

  if (values.keep) {
    say("LAB running; Ctrl-C stops it");
    await new Promise((r) => process.once("SIGINT", r));
  }
}

/**
 * One account per other role, as a clinic's MSP would have them: an operator (technician) and a
 * viewer (the office manager) scoped to the lab client, and an auditor of the lab client for this
 * month and the last. Passwords are generated by the control plane and printed here (LAB only).
 */
async function labLogins(lab: LabPair): Promise<string[]> {
  const now = new Date();
  const window = {
    from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString(),
    to: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
  };
  const accounts = [
    { username: "lab-technician", role: "operator", scope: { tenants: [TENANT] } },
    { username: "lab-office-manager", role: "viewer", scope: { tenants: [TENANT] } },
    { username: "lab-auditor", role: "auditor", scope: { tenants: [TENANT], window } },
  ];
  const lines: string[] = [];
  for (const account of accounts) {
    const made = await lab.admin("/operators", account);
    if (made.status !== 201)
      throw new Error(`creating ${account.username} failed: ${JSON.stringify(made.body)}`);
    const { password } = made.body as { password: string };
    lines.push(`${account.role} login: ${account.username} / ${password} (${TENANT} only)`);
  }
  return lines;
}

try {
  await main();
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await second?.agent.stop();
  await pair?.stop();
  if (!values["data-dir"]) await rm(dir, { recursive: true, force: true });
}
