import { readFileSync } from "node:fs";
import type { Catalog, QualificationCase } from "#catalog";
import { createSigner, privateKeyFromPem, type QualificationReport, type Signer } from "#protocol";
import { DEFAULT_QUALIFICATION_THRESHOLDS, dataDirLayout } from "../config.ts";
import { INCIDENT_BEGIN, INCIDENT_END, type PlannerInput } from "../planner/prompt.ts";
import { type QualifiedServer, recordQualification } from "../planner/qualify.ts";
import { openSqliteStore, type QualificationStore } from "../store/index.ts";
import { choose, type ModelReply, type ModelRequest } from "./model-server.ts";

/** The planner input a model request carries (between the prompt's data markers). */
export function requestInput(r: ModelRequest): PlannerInput {
  const user = r.body.messages.find((m) => m.role === "user")?.content ?? "";
  return JSON.parse(user.split(INCIDENT_BEGIN)[1]?.split(INCIDENT_END)[0] ?? "null");
}

/** The qualification case whose incident a request carries. */
export function caseOf(catalog: Catalog, r: ModelRequest): QualificationCase | undefined {
  const d = requestInput(r);
  const key = (x: unknown) => JSON.stringify(x);
  return catalog.qualification?.cases.find(
    (c) =>
      c.incident.check_id === d.check_id &&
      key(c.incident.findings) === key(d.findings) &&
      key(c.incident.previous_attempts) === key(d.previous_attempts) &&
      (c.incident.local_l1?.runbook_id ?? null) ===
        (d.local_l1.attempted ? d.local_l1.runbook_id : null),
  );
}

/** A model that has read the labels: it answers every qualification case as labelled. */
export const perfectModel =
  (catalog: Catalog) =>
  (r: ModelRequest): ModelReply =>
    choose(caseOf(catalog, r)?.expect ?? "escalate", 0.9, "as labelled");

/**
 * Records a passing qualification for `server` the way `planner qualify` records one: a report
 * with the figures of a model that met every label, signed with the control plane's key and
 * written through the qualification store. Tests that configure a model use it so the gate
 * stays on in every test; only the model calls of a real qualification run are skipped.
 */
export async function recordPassingQualification(
  store: QualificationStore,
  signer: Signer,
  server: QualifiedServer,
  at: Date = new Date(),
): Promise<QualificationReport> {
  const thresholds = DEFAULT_QUALIFICATION_THRESHOLDS;
  return recordQualification(
    store,
    signer,
    {
      v: 1,
      type: "model_qualification",
      base_url: server.baseUrl,
      model: server.model,
      recorded_at: at.toISOString(),
      cases: 46,
      accuracy: 1,
      escalation_rate: 0.2,
      unsafe_choices: 0,
      failures: 0,
      latency_ms: { p50: 5, p99: 40 },
      tokens: { prompt: 11_877, completion: 1_110, total: 12_987 },
      thresholds: { ...thresholds, max_unsafe_choices: 0 },
      passed: true,
      reasons: [],
      results: [],
    },
    "test-fixture",
  );
}

/** recordPassingQualification into a data directory `control-plane init` made (SQLite). */
export async function qualifyInDataDir(dataDir: string, server: QualifiedServer): Promise<void> {
  const files = dataDirLayout(dataDir);
  const signer = createSigner(privateKeyFromPem(readFileSync(files.orderKey, "utf8")));
  const store = openSqliteStore(files.sqlite);
  try {
    await store.migrate();
    await recordPassingQualification(store.planner, signer, server);
  } finally {
    await store.close();
  }
}
