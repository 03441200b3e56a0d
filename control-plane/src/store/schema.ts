import type { PlannerTables } from "./planner/schema.ts";

/** Row types for Kysely. Times are RFC 3339 text and JSON is text, so both dialects agree. */
export interface TenantsTable {
  tenant_id: string;
  ca_cert_pem: string;
  ca_key_sealed: string;
  retention_days: number;
}

export interface AppliancesTable {
  tenant_id: string;
  appliance_id: string;
  status: string;
  macs_json: string;
  settings_json: string;
  token_hash: string | null;
  token_expires_at: string | null;
  token_used_at: string | null;
  evidence_public_key: string | null;
  evidence_key_fingerprint: string | null;
  csr_pem: string | null;
  cert_pem: string | null;
  cert_fingerprint: string | null;
  hostname: string | null;
  agent_version: string | null;
  order_seq: number;
  evidence_head_seq: number;
  evidence_head_hash: string;
  created_at: string;
  enrolled_at: string | null;
  revoked_at: string | null;
  last_seen_at: string | null;
}

export interface ApplianceMacsTable {
  mac: string;
  tenant_id: string;
  appliance_id: string;
}

export interface OrdersTable {
  order_id: string;
  tenant_id: string;
  appliance_id: string;
  seq: number;
  runbook_id: string;
  params_json: string;
  tier: string;
  issued_at: string;
  expires_at: string;
  status: string;
  result_json: string | null;
  /** Set once when the order is withdrawn (JSON: OrderWithdrawal). */
  withdrawal_json: string | null;
}

export interface EvidenceTable {
  tenant_id: string;
  appliance_id: string;
  seq: number;
  hash: string;
  prev_hash: string;
  bundle_json: string;
  received_at: string;
}

export interface AlertsTable {
  id: string;
  tenant_id: string;
  appliance_id: string;
  code: string;
  detail: string;
  created_at: string;
}

export interface IncidentsTable {
  tenant_id: string;
  appliance_id: string;
  incident_id: string;
  status: string;
  body_json: string;
  received_at: string;
}

export interface AdminTokensTable {
  token_hash: string;
  /** The token's name, unique among live tokens (the API checks). */
  label: string;
  created_at: string;
  role: string;
  scope_json: string;
  created_by: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface OperatorsTable {
  operator_id: string;
  username: string;
  password_hash: string;
  /** Unused since sign-in throttling (sign_in_failures); kept because shipped migrations made it. */
  failed_attempts: number;
  /** Unused, as failed_attempts. */
  locked_until: string | null;
  created_at: string;
  role: string;
  scope_json: string;
  /** When the account's access ends (an auditor's engagement); null: never. */
  expires_at: string | null;
  disabled_at: string | null;
  /** The TOTP secret, sealed by the secret box; null: not enrolled. */
  totp_sealed: string | null;
  /** A secret shown to the operator, waiting for its first code to replace `totp_sealed`. */
  totp_pending_sealed: string | null;
  /** The last TOTP time step accepted: a code of that step or before is refused. */
  totp_last_step: number | string | null;
}

export interface SignInFailuresTable {
  /** A hash of the name tried (known or not), so a name's existence changes nothing. */
  subject: string;
  /** The client address (an IPv6 /64), or "*" for the account's total over all addresses. */
  address: string;
  failures: number;
  last_failure_at: string;
}

export interface SessionsTable {
  id_hash: string;
  operator_id: string;
  csrf_hash: string;
  expires_at: string;
  created_at: string | null;
  last_seen_at: string | null;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail_json: string;
  prev_hash: string;
  hash: string;
}

export interface CheckpointsTable {
  tenant_id: string;
  appliance_id: string;
  tree_size: number;
  root_hash: string;
  issued_at: string;
  checkpoint_json: string;
}

export interface VaultCursorsTable {
  tenant_id: string;
  appliance_id: string;
  segmented_seq: number;
}

export interface VaultObjectsTable {
  object_key: string;
  tenant_id: string;
  appliance_id: string;
  kind: string;
  first_seq: number;
  last_seq: number;
  sha256: string;
  byte_length: number;
  created_at: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  archive: string | null;
  version_id: string | null;
  retain_until: string | null;
  archived_at: string | null;
}

export interface PacketVersionsTable {
  tenant_id: string;
  month: string;
  version: number;
  generated_at: string;
  requested_by: string;
  reason: string | null;
  manifest_sha256: string | null;
  previous_manifest_sha256: string | null;
  files_json: string;
  counts_json: string;
}

export interface PacketJobsTable {
  job_id: string;
  tenant_id: string;
  month: string;
  requested_by: string;
  status: string;
  progress: number;
  reason: string | null;
  error: string | null;
  rerun_of: string | null;
  version: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface EvidenceVerifiedHeadsTable {
  tenant_id: string;
  appliance_id: string;
  seq: number;
  head_json: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
  completed_at: string | null;
}

export interface CosignaturesTable {
  tenant_id: string;
  appliance_id: string;
  evidence_seq: number;
  tree_size: number;
  root_hash: string;
  cosignature: string;
  received_at: string;
}

export interface ChangeRequestsTable {
  request_id: string;
  action: string;
  tenant_id: string | null;
  target: string;
  payload_json: string;
  reason: string;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  status: string;
  decided_by: string | null;
  decided_at: string | null;
  note: string | null;
}

export interface Database extends PlannerTables {
  tenants: TenantsTable;
  appliances: AppliancesTable;
  appliance_macs: ApplianceMacsTable;
  orders: OrdersTable;
  evidence: EvidenceTable;
  alerts: AlertsTable;
  incidents: IncidentsTable;
  admin_tokens: AdminTokensTable;
  operators: OperatorsTable;
  sessions: SessionsTable;
  sign_in_failures: SignInFailuresTable;
  audit_log: AuditLogTable;
  checkpoints: CheckpointsTable;
  vault_cursors: VaultCursorsTable;
  vault_objects: VaultObjectsTable;
  leases: LeasesTable;
  packet_versions: PacketVersionsTable;
  packet_jobs: PacketJobsTable;
  evidence_verified_heads: EvidenceVerifiedHeadsTable;
  cosignatures: CosignaturesTable;
  change_requests: ChangeRequestsTable;
}
