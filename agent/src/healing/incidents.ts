import { randomUUID } from "node:crypto";
import type { ChainHead, Finding, Incident, Severity } from "#protocol";
import type { JournalIdentity } from "../journal.ts";
import type { StateStore } from "./attempts.ts";

/**
 * Drift the appliance does not heal itself becomes an incident for the control plane (L2/L3). An
 * incident is queued in the journal's outbox in the same transaction as its incident_opened
 * bundle, so it survives a restart and is sent in order with the order results, retried until the
 * control plane acknowledges it. One drift (check, finding kind, subject) opens one incident: while
 * it stays open, later cycles do not report it again (and do not retry it, unless only the policy
 * held it back); it closes when the check, having looked, no longer reports that finding.
 */
export const OUTBOX_INCIDENT = "incident";
const OPEN_KEY = "healing_open_incidents";

export const driftKey = (check: string, finding: Finding) =>
  `${check}/${finding.code}/${finding.subject ?? ""}`;

export interface OpenIncident {
  readonly id: string;
  /**
   * True when only the policy (audit-only, the kill switch) kept the drift from healing: once
   * the policy allows, the healer acts on it without reporting it again.
   */
  readonly policy: boolean;
}

export interface OpenIncidents {
  openFor(key: string): OpenIncident | undefined;
  open(keys: readonly string[], incidentId: string, policy: boolean): void;
  /** Closes the check's open drift that the check no longer reports. */
  settle(check: string, stillReported: ReadonlySet<string>): void;
}

export function openIncidents(store: StateStore): OpenIncidents {
  const load = (): Record<string, OpenIncident | string> => {
    try {
      return JSON.parse(store.getState(OPEN_KEY) || "{}") as Record<string, OpenIncident | string>;
    } catch {
      return {};
    }
  };
  return {
    openFor(key) {
      const entry = load()[key];
      if (entry === undefined) return undefined;
      return typeof entry === "string" ? { id: entry, policy: false } : entry;
    },
    open(keys, incidentId, policy) {
      const all = load();
      for (const key of keys) all[key] = { id: incidentId, policy };
      store.setState(OPEN_KEY, JSON.stringify(all));
    },
    settle(check, stillReported) {
      const all = load();
      let changed = false;
      for (const key of Object.keys(all)) {
        if (key.startsWith(`${check}/`) && !stillReported.has(key)) {
          delete all[key];
          changed = true;
        }
      }
      if (changed) store.setState(OPEN_KEY, JSON.stringify(all));
    },
  };
}

export function buildIncident(input: {
  identity: JournalIdentity;
  check: string;
  severity: Severity;
  findings: readonly Finding[];
  evidence: ChainHead;
  detectedAt: Date;
  localL1: Incident["local_l1"];
}): Incident {
  return {
    v: 1,
    type: "incident",
    incident_id: randomUUID(),
    tenant_id: input.identity.tenantId,
    appliance_id: input.identity.applianceId,
    check_id: input.check,
    severity: input.severity,
    detected_at: input.detectedAt.toISOString(),
    findings: input.findings.slice(0, 64),
    evidence: input.evidence,
    local_l1: input.localL1,
  };
}
