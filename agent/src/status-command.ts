import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { loadConfig } from "./config.ts";
import { enrollmentFiles } from "./enrollment.ts";
import { describeError } from "./log.ts";
import type { AgentStatus } from "./status.ts";
import { subcommandArgs } from "./subcommand-args.ts";

const HELP = `Usage: node agent.mjs status [--config PATH] [--format text|json]

Prints, for the person at the appliance: whether it is enrolled, its appliance id, its evidence
key id (the lower-case hex SHA-256 of the raw Ed25519 public key: the form an auditor computes
with OpenSSL and pins), the last successful poll of the control plane and the evidence queue
(bundles not yet receipted). Read-only: status.json, enrollment.json and the journal, which
it opens read-only; it never contacts the control plane. Exit 0, or 1 when the state dir holds
nothing of an agent yet.`;

export interface StatusReport {
  readonly enrollment: "enrolled" | "enrolling" | "not started";
  readonly enrolled_at: string | null;
  readonly tenant_id: string | null;
  readonly appliance_id: string | null;
  readonly evidence_key_id: string | null;
  readonly agent_state: AgentStatus["state"] | null;
  readonly last_poll_at: string | null;
  readonly contact_failures: number | null;
  /** Bundles the control plane has not receipted yet; from the journal when it can be read. */
  readonly queue_depth: number | null;
  readonly evidence_head_seq: number | null;
  readonly receipted_seq: number | null;
  readonly queue_source: "journal" | "status.json" | "none";
}

const readJson = (path: string): Record<string, unknown> | undefined =>
  existsSync(path)
    ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>)
    : undefined;
const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
const count = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The journal's head and receipted seq, read without writing (not even a WAL checkpoint). */
function journalQueue(stateDir: string): { head: number; receipted: number } | undefined {
  const path = join(stateDir, "journal.sqlite");
  if (!existsSync(path)) return undefined;
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const head = db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM bundles").get() as {
      seq: number;
    };
    const receipted = db.prepare("SELECT value FROM state WHERE key = 'receipted_seq'").get() as
      | { value: string }
      | undefined;
    return { head: Number(head.seq), receipted: Number(receipted?.value ?? "0") };
  } finally {
    db.close();
  }
}

export function readStatusReport(stateDir: string): StatusReport {
  const status = readJson(join(stateDir, "status.json"));
  const enrollment = readJson(enrollmentFiles(stateDir).record);
  let queue: { head: number; receipted: number } | undefined;
  try {
    queue = journalQueue(stateDir);
  } catch {
    queue = undefined; // locked or unreadable: status.json's figures, which say so
  }
  const head = queue?.head ?? count(status?.evidence_head_seq);
  const receipted = queue?.receipted ?? count(status?.receipted_seq);
  return {
    enrollment: enrollment ? "enrolled" : status ? "enrolling" : "not started",
    enrolled_at: text(enrollment?.enrolled_at),
    tenant_id: text(enrollment?.tenant_id) ?? text(status?.tenant_id),
    appliance_id: text(enrollment?.appliance_id) ?? text(status?.appliance_id),
    evidence_key_id:
      text(status?.evidence_key_fingerprint) ?? text(enrollment?.evidence_key_fingerprint),
    agent_state: (text(status?.state) as AgentStatus["state"] | null) ?? null,
    last_poll_at: text(status?.last_contact_at),
    contact_failures: count(status?.contact_failures),
    queue_depth: queue ? queue.head - queue.receipted : count(status?.backlog),
    evidence_head_seq: head,
    receipted_seq: receipted,
    queue_source: queue ? "journal" : status ? "status.json" : "none",
  };
}

export function formatStatusReport(r: StatusReport): string {
  const enrollment =
    r.enrollment === "enrolled"
      ? `enrolled${r.enrolled_at ? ` ${r.enrolled_at}` : ""} (site ${r.tenant_id})`
      : r.enrollment === "enrolling"
        ? "not yet: waiting for the enrollment token or an operator's approval"
        : "not started (no status.json in the state dir)";
  const failures = r.contact_failures ? `, ${r.contact_failures} failed contacts since` : "";
  return [
    `enrollment:      ${enrollment}`,
    `appliance id:    ${r.appliance_id ?? "-"}`,
    `evidence key id: ${r.evidence_key_id ?? "-"}`,
    `last poll:       ${r.last_poll_at ?? "never"}${failures}`,
    `queue depth:     ${r.queue_depth ?? "-"} bundles not yet receipted (evidence head ${r.evidence_head_seq ?? "-"}, receipted ${r.receipted_seq ?? "-"}; from ${r.queue_source})`,
    `agent:           ${r.agent_state ?? "-"}`,
  ].join("\n");
}

export function statusMain(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const args = subcommandArgs(argv, "format", HELP);
  if (typeof args === "number") return args;
  const format = args.format ?? "text";
  if (format !== "text" && format !== "json") {
    process.stderr.write(`--format must be text or json\n\n${HELP}\n`);
    return 2;
  }
  try {
    const report = readStatusReport(loadConfig(args.config, env).state_dir);
    process.stdout.write(
      format === "json"
        ? `${JSON.stringify(report, null, 2)}\n`
        : `${formatStatusReport(report)}\n`,
    );
    return report.enrollment === "not started" ? 1 : 0;
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n`);
    return 1;
  }
}
