import { writeFileAtomic } from "./atomic-file.ts";

/**
 * The status file replaces any health endpoint (the agent never listens): JSON rewritten
 * atomically after every cycle, readable by the NixOS module, monitoring or a technician.
 */
export interface AgentStatus {
  version: string;
  pid: number;
  state: "starting" | "enrolling" | "running" | "stopping" | "stopped";
  tenant_id: string | null;
  appliance_id: string | null;
  evidence_key_fingerprint: string | null;
  last_cycle_at: string | null;
  last_cycle_ms: number | null;
  cycles: number;
  last_contact_at: string | null;
  contact_failures: number;
  next_contact_at: string | null;
  backlog: number;
  evidence_head_seq: number;
  receipted_seq: number;
  last_order_seq: number;
  last_error: string | null;
  /** What the healer may do now: act, only record (audit), or nothing (paused); null: no healer. */
  healing: "enforce" | "audit" | "paused" | null;
}

export function initialStatus(version: string, pid: number): AgentStatus {
  return {
    version,
    pid,
    state: "starting",
    tenant_id: null,
    appliance_id: null,
    evidence_key_fingerprint: null,
    last_cycle_at: null,
    last_cycle_ms: null,
    cycles: 0,
    last_contact_at: null,
    contact_failures: 0,
    next_contact_at: null,
    backlog: 0,
    evidence_head_seq: 0,
    receipted_seq: 0,
    last_order_seq: 0,
    last_error: null,
    healing: null,
  };
}

export function writeStatus(path: string, status: AgentStatus): void {
  writeFileAtomic(path, `${JSON.stringify(status, null, 2)}\n`, 0o644);
}
