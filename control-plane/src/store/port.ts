import type { AgentSettings, ChainHead } from "#protocol";
import type { Role, Scope } from "../access/roles.ts";
import type { NewOrder, OrderStatus, OrderWithdrawal, StoredOrder } from "./order-records.ts";
import type { PlannerStore } from "./planner/port.ts";

export type { NewOrder, OrderStatus, OrderWithdrawal, StoredOrder } from "./order-records.ts";

/**
 * The Store port: everything the control plane keeps, behind one interface composed of one part
 * per domain. Each part is implemented once on Kysely in the file of the same name (tenants.ts,
 * appliances.ts, ...) and checked by that file's contract (`<domain>.contract.ts`), which the
 * SQLite and the PostgreSQL adapter both pass. Every appliance-facing method takes the tenant id
 * and scopes its query by it: no query reads across tenants.
 */
export interface Store
  extends StoreLifecycle,
    TenantStore,
    ApplianceStore,
    OrderStore,
    EvidenceStore,
    AlertStore,
    IncidentQueueStore,
    OperatorStore,
    AuditStore,
    VaultStore,
    LeaseStore,
    ExpiryStore,
    PacketStore,
    CosignatureStore,
    ChangeRequestStore {
  /** The incident pipeline, guardrails, decision chain and flywheel (store/planner/). */
  readonly planner: PlannerStore;
}

export interface StoreLifecycle {
  readonly dialect: "sqlite" | "postgres";
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// ── Tenants (tenants.ts) ────────────────────────────────────────────────────────────────────

export interface TenantRecord {
  readonly tenantId: string;
  readonly caCertPem: string;
  /** The tenant CA private key, sealed with the data directory's secret key (never plain). */
  readonly caKeySealed: string;
  readonly retentionDays: number;
}

export interface TenantStore {
  upsertTenant(tenant: TenantRecord): Promise<void>;
  getTenant(tenantId: string): Promise<TenantRecord | undefined>;
  /** Every tenant (site) id, sorted; the dashboard's overview walks them. */
  listTenantIds(): Promise<string[]>;
}

// ── Appliances and enrollment (appliances.ts) ───────────────────────────────────────────────

export type ApplianceStatus = "registered" | "pending" | "approved" | "active" | "revoked";

/** A site registration that becomes the enrolled appliance (one row through its life). */
export interface ApplianceRecord {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly status: ApplianceStatus;
  readonly macs: readonly string[];
  readonly settings: AgentSettings;
  readonly tokenHash: string | null;
  readonly tokenExpiresAt: string | null;
  readonly tokenUsedAt: string | null;
  readonly evidencePublicKey: string | null;
  readonly evidenceKeyFingerprint: string | null;
  readonly csrPem: string | null;
  readonly certPem: string | null;
  readonly certFingerprint: string | null;
  readonly hostname: string | null;
  readonly agentVersion: string | null;
  readonly orderSeq: number;
  readonly evidenceHead: ChainHead;
  readonly createdAt: string;
  readonly enrolledAt: string | null;
  readonly revokedAt: string | null;
  readonly lastSeenAt: string | null;
}

export interface NewRegistration {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly macs: readonly string[];
  readonly settings: AgentSettings;
  readonly tokenHash: string | null;
  readonly tokenExpiresAt: string | null;
  readonly createdAt: string;
}

export interface EnrollmentClaim {
  readonly evidencePublicKey: string;
  readonly evidenceKeyFingerprint: string;
  readonly csrPem: string;
  readonly hostname: string;
  readonly agentVersion: string;
}

export interface ApplianceStore {
  /** Refuses (returns false) when the appliance id is already registered for the tenant. */
  registerAppliance(registration: NewRegistration): Promise<boolean>;
  getAppliance(tenantId: string, applianceId: string): Promise<ApplianceRecord | undefined>;
  listAppliances(tenantId: string): Promise<ApplianceRecord[]>;
  /** Registrations not yet active whose expected MACs include any of these. */
  findEnrollableByMac(macs: readonly string[]): Promise<ApplianceRecord[]>;
  findByTokenHash(tokenHash: string): Promise<ApplianceRecord | undefined>;
  findByCertFingerprint(fingerprint: string): Promise<ApplianceRecord | undefined>;
  /** Records the claim of an appliance waiting for an operator (status registered/pending). */
  setPending(tenantId: string, applianceId: string, claim: EnrollmentClaim): Promise<boolean>;
  /** pending → approved, only when the fingerprint is the one the appliance presented. */
  approve(tenantId: string, applianceId: string, fingerprint: string): Promise<boolean>;
  /**
   * registered/pending/approved → active with the issued certificate. With `consumeToken`,
   * atomically requires the token to be unused (single use under concurrency).
   */
  activate(
    tenantId: string,
    applianceId: string,
    enrolment: EnrollmentClaim & { certPem: string; certFingerprint: string; at: string },
    consumeToken: boolean,
  ): Promise<boolean>;
  revoke(tenantId: string, applianceId: string, at: string): Promise<boolean>;
  touch(tenantId: string, applianceId: string, at: string): Promise<void>;
  /**
   * Removes a registration that never enrolled (registered, pending or approved, no order, no
   * evidence) together with its MACs; false otherwise. An enrolled appliance is revoked instead,
   * so its evidence stays.
   */
  deleteRegistration(tenantId: string, applianceId: string): Promise<boolean>;
  /** A new one-time token (hash) for a registration not yet enrolled (registered or pending). */
  resetEnrollmentToken(
    tenantId: string,
    applianceId: string,
    tokenHash: string,
    expiresAt: string,
  ): Promise<boolean>;
}

// ── Orders (orders.ts) ──────────────────────────────────────────────────────────────────────

export interface OrderStore {
  /** Allocates the next sequence number of the appliance atomically. */
  createOrder(tenantId: string, applianceId: string, order: NewOrder): Promise<StoredOrder>;
  ordersAfter(
    tenantId: string,
    applianceId: string,
    afterSeq: number,
    limit: number,
  ): Promise<StoredOrder[]>;
  /** Pending → delivered; returns how many moved (a withdrawn order stays withdrawn). */
  markDelivered(
    tenantId: string,
    applianceId: string,
    orderIds: readonly string[],
  ): Promise<number>;
  getOrder(tenantId: string, orderId: string): Promise<StoredOrder | undefined>;
  /** Returns false when no such order exists for this appliance. */
  setOrderResult(
    tenantId: string,
    applianceId: string,
    orderId: string,
    status: OrderStatus,
    result: unknown,
  ): Promise<boolean>;
  expireOrders(now: string): Promise<number>;
  /**
   * Withdraws, in one statement, every order in scope that is pending or delivered and not yet
   * expired at `withdrawal.at` (never the healing control runbooks): status withdrawn, with who,
   * when and why. Scope: one tenant (null: all), optionally one appliance and some tiers only.
   * Returns the orders it withdrew.
   */
  withdrawOrders(
    scope: {
      readonly tenantId: string | null;
      readonly applianceId?: string;
      readonly tiers?: readonly ("L1" | "L2" | "L3")[];
    },
    withdrawal: Omit<OrderWithdrawal, "previousStatus">,
  ): Promise<StoredOrder[]>;
  /**
   * The appliance's withdrawn orders it has not reported on, up to `maxSeq`, not expired at
   * `now`, oldest first: what its poll response names as withdrawn.
   */
  withdrawnOrders(
    tenantId: string,
    applianceId: string,
    maxSeq: number,
    now: string,
    limit: number,
  ): Promise<StoredOrder[]>;
}

// ── Evidence and its chain (evidence.ts) ────────────────────────────────────────────────────

export interface EvidenceRow {
  readonly seq: number;
  readonly hash: string;
  readonly prevHash: string;
  /** The bundle as received (JSON text), so an export reproduces the signed bytes. */
  readonly bundleJson: string;
}

export interface ArchiveRow {
  readonly seq: number;
  readonly hash: string;
  readonly bundleJson: string;
  readonly receivedAt: string;
}

export interface EvidenceStore {
  evidenceHashes(
    tenantId: string,
    applianceId: string,
    fromSeq: number,
    toSeq: number,
  ): Promise<Map<number, string>>;
  /**
   * Appends after `from` only if it is still the stored head (compare-and-swap), together with
   * the witness cosignatures those bundles carry: one transaction, so no bundle is stored without
   * its cosignature row and no row without its bundle.
   */
  appendEvidence(
    tenantId: string,
    applianceId: string,
    from: ChainHead,
    rows: readonly EvidenceRow[],
    receivedAt: string,
    cosignatures?: readonly StoredCosignature[],
  ): Promise<boolean>;
  listEvidence(
    tenantId: string,
    applianceId: string,
    afterSeq: number,
    limit: number,
  ): Promise<EvidenceRow[]>;
  /** Every appliance that has evidence, with its head, across tenants (for the vault jobs). */
  listEvidenceHeads(): Promise<{ tenantId: string; applianceId: string; head: ChainHead }[]>;
  listEvidenceForArchive(
    tenantId: string,
    applianceId: string,
    afterSeq: number,
    limit: number,
  ): Promise<ArchiveRow[]>;
  /** The first and last seq received in [fromAt, toAt), or undefined when none. */
  evidenceSeqRange(
    tenantId: string,
    applianceId: string,
    fromAt: string,
    toAt: string,
  ): Promise<{ first: number; last: number } | undefined>;
}

// ── Alerts (alerts.ts) ──────────────────────────────────────────────────────────────────────

export interface AlertRecord {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly code: string;
  readonly detail: string;
  readonly createdAt: string;
}

export interface AlertStore {
  recordAlert(alert: AlertRecord): Promise<void>;
  listAlerts(tenantId: string): Promise<AlertRecord[]>;
}

// ── The incident queue (incident-queue.ts) ──────────────────────────────────────────────────

export interface IncidentQueueStore {
  /**
   * Incident ids are unique per appliance: "duplicate" for an identical resend, "conflict" for a
   * different body under a used id.
   */
  recordIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    bodyJson: string,
    at: string,
  ): Promise<"created" | "duplicate" | "conflict">;
  listIncidents(
    tenantId: string,
  ): Promise<{ incidentId: string; applianceId: string; status: string; bodyJson: string }[]>;
}

// ── Operators, sessions and admin tokens (operators.ts) ─────────────────────────────────────

export interface OperatorRecord {
  readonly operatorId: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly scope: Scope;
  /** When the account's access ends (an auditor's engagement); null: never. */
  readonly expiresAt: string | null;
  readonly disabledAt: string | null;
  /** The TOTP secret sealed by the secret box; null: not enrolled. */
  readonly totpSealed: string | null;
  /** A secret being enrolled: it replaces `totpSealed` once a code of it is verified. */
  readonly totpPendingSealed: string | null;
}

/** What creating an operator needs; role and scope default to an admin of every tenant. */
export type NewOperator = Pick<OperatorRecord, "operatorId" | "username" | "passwordHash"> &
  Partial<Pick<OperatorRecord, "role" | "scope" | "expiresAt">>;

export type OperatorChange = Partial<
  Pick<
    OperatorRecord,
    | "role"
    | "scope"
    | "expiresAt"
    | "disabledAt"
    | "passwordHash"
    | "totpSealed"
    | "totpPendingSealed"
  >
>;

/** Failed sign-ins of one name from one address (or "*": all addresses) in the current window. */
export interface SignInFailures {
  readonly failures: number;
  readonly lastFailureAt: string;
}

export interface SessionRecord {
  readonly idHash: string;
  readonly operatorId: string;
  readonly csrfHash: string;
  readonly expiresAt: string;
  readonly createdAt?: string | null;
  readonly lastSeenAt?: string | null;
}

/** A named API token (stored as its hash) with the role and scope it acts with. */
export interface ApiTokenRecord {
  readonly tokenHash: string;
  readonly label: string;
  readonly role: Role;
  readonly scope: Scope;
  readonly createdAt: string;
  readonly createdBy: string | null;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export type NewApiToken = Pick<ApiTokenRecord, "tokenHash" | "label"> &
  Partial<Pick<ApiTokenRecord, "role" | "scope" | "expiresAt" | "createdBy">>;

export interface OperatorStore {
  /** Adds a token; role and scope default to an admin of every tenant. */
  addAdminToken(token: NewApiToken, at: string): Promise<void>;
  findAdminToken(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  listAdminTokens(): Promise<ApiTokenRecord[]>;
  /** Records a use; at most one write per token a minute. */
  touchAdminToken(tokenHash: string, at: string): Promise<void>;
  /** Revokes the live token of this hash; false if none. */
  revokeAdminToken(tokenHash: string, at: string): Promise<boolean>;
  createOperator(operator: NewOperator, at: string): Promise<boolean>;
  getOperatorByName(username: string): Promise<OperatorRecord | undefined>;
  getOperator(operatorId: string): Promise<OperatorRecord | undefined>;
  listOperators(): Promise<OperatorRecord[]>;
  /** Changing the TOTP secret also forgets the last step used (a new secret starts afresh). */
  updateOperator(operatorId: string, change: OperatorChange): Promise<boolean>;
  /**
   * Marks a TOTP time step used, in one statement: true only if it is after the last one
   * accepted, so the same code (or an older one) presented twice, even at once, wins once.
   */
  claimTotpStep(operatorId: string, step: number): Promise<boolean>;
  getSignInFailures(subject: string, address: string): Promise<SignInFailures | undefined>;
  /**
   * Counts one failure atomically (one upsert: concurrent failures all count) and returns the new
   * count; a row whose last failure is before `windowStart` starts again at 1.
   */
  recordSignInFailure(
    subject: string,
    address: string,
    at: string,
    windowStart: string,
  ): Promise<number>;
  clearSignInFailures(subject: string, address: string): Promise<void>;
  /** Clears a name's failures from every address (an admin's unlock). */
  clearSignInFailuresOf(subject: string): Promise<number>;
  /** Deletes rows whose last failure is before `before`; returns how many. */
  pruneSignInFailures(before: string): Promise<number>;
  createSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Records activity on a session (for the idle timeout). */
  touchSession(idHash: string, at: string): Promise<void>;
  listSessions(operatorId: string): Promise<SessionRecord[]>;
  deleteSession(idHash: string): Promise<void>;
  /** Ends an operator's sessions: all, or the one whose id hash starts with `prefix`. */
  deleteSessionsOf(operatorId: string, prefix?: string): Promise<number>;
}

// ── The audit log (audit.ts) ────────────────────────────────────────────────────────────────

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detailJson: string;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditStore {
  /** Appends one entry, computing its link with `seal` from the current last hash atomically. */
  appendAudit(
    entry: Omit<AuditEntry, "seq" | "prevHash" | "hash">,
    seal: (seq: number, prevHash: string) => string,
  ): Promise<AuditEntry>;
  listAudit(afterSeq: number, limit: number): Promise<AuditEntry[]>;
}

// ── The evidence vault: checkpoints, segments, WORM outbox (vault.ts) ───────────────────────

/** A signed checkpoint as stored; `checkpointJson` is the signed document. */
export interface StoredCheckpoint {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly issuedAt: string;
  readonly checkpointJson: string;
}

export type VaultObjectKind = "segment" | "checkpoint";

/** One object of the WORM outbox: pending until the archive confirmed it, then archived. */
export interface NewVaultObject {
  readonly objectKey: string;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly kind: VaultObjectKind;
  /** Evidence sequence range (a segment) or the tree size twice (a checkpoint). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Hex SHA-256 of the object's bytes, fixed when it is queued; the upload must match it. */
  readonly sha256: string;
  readonly byteLength: number;
  readonly createdAt: string;
}

export interface VaultObject extends NewVaultObject {
  readonly status: "pending" | "archived";
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  /** Which archive took it: "s3" (WORM) or "local-not-worm". */
  readonly archive: string | null;
  readonly versionId: string | null;
  readonly retainUntil: string | null;
  readonly archivedAt: string | null;
}

export interface VaultStore {
  /** Inserts the checkpoint and its outbox object atomically; false if that size exists. */
  insertCheckpoint(checkpoint: StoredCheckpoint, object: NewVaultObject): Promise<boolean>;
  latestCheckpoint(tenantId: string, applianceId: string): Promise<StoredCheckpoint | undefined>;
  /** Checkpoints with fromSize <= tree_size <= toSize, oldest first. */
  listCheckpoints(
    tenantId: string,
    applianceId: string,
    fromSize: number,
    toSize: number,
  ): Promise<StoredCheckpoint[]>;
  /** Highest evidence seq already put into a segment (0 for none). */
  segmentCursor(tenantId: string, applianceId: string): Promise<number>;
  /** Queues a segment and moves the cursor from object.firstSeq - 1 to object.lastSeq (CAS). */
  queueSegment(object: NewVaultObject): Promise<boolean>;
  dueVaultObjects(now: string, limit: number): Promise<VaultObject[]>;
  markVaultArchived(
    objectKey: string,
    receipt: { archive: string; versionId: string | null; retainUntil: string; archivedAt: string },
  ): Promise<void>;
  markVaultFailed(objectKey: string, error: string, nextAttemptAt: string): Promise<void>;
  listVaultObjects(tenantId: string, applianceId: string): Promise<VaultObject[]>;
}

// ── Leases for scheduled jobs (leases.ts) ───────────────────────────────────────────────────

export type LeaseOutcome = "acquired" | "held" | "completed";

export interface LeaseStore {
  /**
   * Takes the lease `name` until `expiresAt` if it is free, expired or already `holder`'s
   * (compare-and-swap); "held" when another holder has it, "completed" once marked completed.
   */
  acquireLease(name: string, holder: string, now: string, expiresAt: string): Promise<LeaseOutcome>;
  /** The holder gives the lease up (or marks it completed for good); false if not the holder. */
  releaseLease(name: string, holder: string, now: string, completed: boolean): Promise<boolean>;
}

// ── Expiry of short-lived rows (expiry.ts) ──────────────────────────────────────────────────

export interface ExpiredRows {
  readonly sessions: number;
  readonly enrollmentTokens: number;
  readonly leases: number;
  readonly signInFailures: number;
}

export interface ExpiryStore {
  /**
   * Deletes sessions, enrollment token hashes and uncompleted leases that expired at or before
   * `now`, and sign-in failure rows whose last failure is before `signInFailuresBefore`.
   */
  deleteExpired(now: string, signInFailuresBefore: string): Promise<ExpiredRows>;
}

// ── Compliance packets (packets.ts) ─────────────────────────────────────────────────────────

/** One version of a generated compliance packet. Versions are never replaced or removed. */
export interface PacketRecord {
  readonly tenantId: string;
  /** YYYY-MM. */
  readonly month: string;
  /** 1 for the first packet of the month; each regeneration adds the next number. */
  readonly version: number;
  readonly generatedAt: string;
  /** Who asked: an operator, "cli", or the monthly job. */
  readonly requestedBy: string;
  /** Why it was (re)generated; required from version 2 on. */
  readonly reason: string | null;
  /** Hex SHA-256 of this version's manifest.json file; null for a packet made before versions. */
  readonly manifestSha256: string | null;
  /** The previous version's manifest hash, as this version's signed manifest states it. */
  readonly previousManifestSha256: string | null;
  /** File name → hex SHA-256, as the signed manifest states them. */
  readonly files: Readonly<Record<string, string>>;
  readonly counts: Readonly<Record<string, number>>;
}

export interface PacketStore {
  /**
   * Adds a version: false when that version number of the tenant and month is already taken (a
   * concurrent regeneration won; read the latest again and retry with the next number).
   */
  addPacketVersion(packet: PacketRecord): Promise<boolean>;
  /** One version, or the latest when `version` is omitted. */
  getPacket(tenantId: string, month: string, version?: number): Promise<PacketRecord | undefined>;
  /** Every version: newest month first, newest version first within a month. */
  listPackets(tenantId: string): Promise<PacketRecord[]>;

  createPacketJob(job: PacketJobRecord): Promise<void>;
  getPacketJob(tenantId: string, jobId: string): Promise<PacketJobRecord | undefined>;
  /** A tenant's jobs, newest first. */
  listPacketJobs(tenantId: string, limit: number): Promise<PacketJobRecord[]>;
  /** Queued jobs of every tenant, oldest first: what a runner takes next. */
  listQueuedPacketJobs(limit: number): Promise<PacketJobRecord[]>;
  /** queued → running; false when another runner took it first. */
  startPacketJob(jobId: string, at: string): Promise<boolean>;
  /** A running job's progress, in thousandths. */
  setPacketJobProgress(jobId: string, progress: number): Promise<void>;
  /** running → done (with the version made) or failed (with the error, kept). */
  finishPacketJob(
    jobId: string,
    outcome: { status: "done"; version: number } | { status: "failed"; error: string },
    at: string,
  ): Promise<void>;

  /** The signed head up to which an appliance's chain was verified in full (chain-scan.ts). */
  getVerifiedHead(tenantId: string, applianceId: string): Promise<VerifiedHeadRecord | undefined>;
  /** Stores a head; a head at or below the stored one never replaces it. */
  putVerifiedHead(head: VerifiedHeadRecord): Promise<void>;
}

export type PacketJobStatus = "queued" | "running" | "done" | "failed";

/** A packet generation asked for and run off the request path. */
export interface PacketJobRecord {
  readonly jobId: string;
  readonly tenantId: string;
  readonly month: string;
  readonly requestedBy: string;
  readonly reason: string | null;
  readonly status: PacketJobStatus;
  /** Thousandths done (0..1000). */
  readonly progress: number;
  readonly error: string | null;
  /** The failed job this one runs again, if it is a re-run. */
  readonly rerunOf: string | null;
  /** The packet version it made, once done. */
  readonly version: number | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface VerifiedHeadRecord {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly seq: number;
  /** The signed head document (JSON text), checked with the control plane's key when read. */
  readonly headJson: string;
}

// ── Witness cosignatures of checkpoints (cosignatures.ts) ───────────────────────────────────

/** An appliance's cosignature of a checkpoint, from the checkpoint_verified bundle at `evidenceSeq`. */
export interface StoredCosignature {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly evidenceSeq: number;
  readonly treeSize: number;
  readonly rootHash: string;
  /** The C2SP signed-note line (cosignature/v1), verified with the appliance key before storing. */
  readonly cosignature: string;
  readonly receivedAt: string;
}

/** Written only with the bundles that carry them (EvidenceStore.appendEvidence). */
export interface CosignatureStore {
  /** Cosignatures of checkpoints with fromSize <= tree_size <= toSize, in chain order. */
  listCosignatures(
    tenantId: string,
    applianceId: string,
    fromSize: number,
    toSize: number,
  ): Promise<StoredCosignature[]>;
}

// ── Changes that need a second operator (change-requests.ts) ────────────────────────────────

/** What a change request asks for: each widens what automation may do. */
export const CHANGE_ACTIONS = ["promote_rule", "enforce_healing", "lift_kill_switch"] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];
export type ChangeStatus = "pending" | "approved" | "rejected";

export interface NewChangeRequest {
  readonly requestId: string;
  readonly action: ChangeAction;
  /** The site it changes; null for the global kill switch. */
  readonly tenantId: string | null;
  /** What it changes, as the audit log names it (a proposal, a site, "planner"). */
  readonly target: string;
  /** The change itself (JSON), applied as stored once approved. */
  readonly payloadJson: string;
  readonly reason: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
}

export interface ChangeRequestRecord extends NewChangeRequest {
  readonly status: ChangeStatus;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly note: string | null;
}

/** The outcome of an approval: applied, or why not (nothing was changed then). */
export type ChangeApproval = "approved" | "not_pending" | "expired" | "own_request";

export interface ChangeRequestStore {
  createChangeRequest(request: NewChangeRequest): Promise<void>;
  getChangeRequest(requestId: string): Promise<ChangeRequestRecord | undefined>;
  /** Newest first; `status` null lists every status. */
  listChangeRequests(status: ChangeStatus | null, limit: number): Promise<ChangeRequestRecord[]>;
  /**
   * Marks a pending, unexpired request approved by `by` (never its requester) and runs `apply`
   * on the same transaction: the change and the approval commit together or not at all, and of
   * concurrent approvals exactly one finds the request pending.
   */
  approveChangeRequest(
    requestId: string,
    by: string,
    at: string,
    apply: (planner: PlannerStore) => Promise<void>,
  ): Promise<ChangeApproval>;
  /** Marks a pending request rejected (anyone may, the requester too); false if not pending. */
  rejectChangeRequest(
    requestId: string,
    by: string,
    at: string,
    note: string | null,
  ): Promise<boolean>;
}
