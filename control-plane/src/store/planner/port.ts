import type { ChainHead } from "#protocol";
import type { NewOrder, StoredOrder } from "../order-records.ts";

/**
 * The planner's part of the Store port (store.planner), one part per domain, each implemented in
 * the file of the same name in this folder and checked by its contract: site policies and the
 * kill switch (control.ts), the incident pipeline's state (incidents.ts), orders issued for
 * incidents with their verified outcomes (attempts.ts: guardrail counters), the control plane's
 * signed decision chain (decisions.ts), and the flywheel's rule proposals and signed rule sets
 * (flywheel.ts). Every query that touches a site's data takes its tenant id.
 */
export interface PlannerStore
  extends PlannerControlStore,
    IncidentStateStore,
    AttemptStore,
    DecisionStore,
    FlywheelStore,
    QualificationStore {}

// ── Model qualification reports (qualifications.ts) ─────────────────────────────────────────

export interface StoredQualification {
  /** The model server the report was measured on (its base URL, as configured). */
  readonly baseUrl: string;
  readonly model: string;
  readonly recordedAt: string;
  readonly passed: boolean;
  readonly reportJson: string;
  readonly recordedBy: string;
}

export interface QualificationStore {
  recordQualification(q: StoredQualification): Promise<void>;
  /**
   * The newest report for `model` on the server at `baseUrl`, passed or not (a newer failing
   * run replaces a pass).
   */
  latestQualification(baseUrl: string, model: string): Promise<StoredQualification | undefined>;
}

// ── Site policies and the kill switch (control.ts) ──────────────────────────────────────────

export interface PlannerControlStore {
  getSitePolicy(tenantId: string): Promise<{ policyJson: string; updatedAt: string } | undefined>;
  putSitePolicy(tenantId: string, policyJson: string, at: string, by: string): Promise<void>;
  getKillSwitch(): Promise<{ engaged: boolean; reason: string; updatedAt: string } | undefined>;
  setKillSwitch(engaged: boolean, reason: string, at: string, by: string): Promise<void>;
}

// ── The incident pipeline's state (incidents.ts) ────────────────────────────────────────────

export type IncidentStatus =
  | "queued"
  | "planning"
  | "ordered"
  | "escalated"
  | "resolved"
  | "rejected"
  | "resolved_manually";

export interface IncidentState {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly incidentId: string;
  readonly status: IncidentStatus;
  readonly updatedAt: string;
  readonly note: Record<string, unknown>;
  /** The incident as received (protocol Incident JSON). */
  readonly bodyJson: string;
  readonly receivedAt: string;
}

export interface IncidentStateStore {
  /** Creates the pipeline state of a stored incident (status queued); false if it exists. */
  openIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    at: string,
  ): Promise<boolean>;
  getIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
  ): Promise<IncidentState | undefined>;
  /** Compare-and-set: moves the incident only when its status is one of `from`. */
  transitionIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    from: readonly IncidentStatus[],
    to: IncidentStatus,
    at: string,
    note: Record<string, unknown>,
  ): Promise<boolean>;
  /** Incidents in a status, oldest first; all tenants when tenantId is null (the worker). */
  incidentsIn(
    status: IncidentStatus,
    tenantId: string | null,
    limit: number,
  ): Promise<IncidentState[]>;
}

// ── Orders issued for incidents and their outcomes (attempts.ts) ────────────────────────────

export type AttemptStatus =
  | "pending"
  | "succeeded"
  | "failed"
  | "rejected"
  | "expired"
  /** The kill switch or the site's audit-only mode withdrew the order before it ran. */
  | "withdrawn";

export interface IncidentAttempt {
  readonly orderId: string;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly incidentId: string;
  readonly runbookId: string;
  readonly tier: "L1" | "L2" | "L3";
  readonly patternKey: string;
  readonly createdAt: string;
  readonly status: AttemptStatus;
  readonly finishedAt: string | null;
}

export interface AttemptFilter {
  readonly tenantId?: string;
  readonly applianceId?: string;
  readonly incidentId?: string;
  readonly runbookId?: string;
  readonly since?: string;
  readonly tiers?: readonly ("L1" | "L2" | "L3")[];
  /** Attempts in these statuses are not counted (a withdrawn order never ran). */
  readonly excludeStatuses?: readonly AttemptStatus[];
}

export interface AttemptStore {
  recordAttempt(attempt: Omit<IncidentAttempt, "status" | "finishedAt">): Promise<void>;
  /** Sets the verified outcome once (pending → final); returns the attempt when it changed. */
  finishAttempt(
    tenantId: string,
    orderId: string,
    status: Exclude<AttemptStatus, "pending">,
    at: string,
  ): Promise<IncidentAttempt | undefined>;
  countAttempts(filter: AttemptFilter): Promise<number>;
  /** Attempts still pending that were created before `createdBefore` (all tenants: the sweep). */
  staleAttempts(createdBefore: string, limit: number): Promise<IncidentAttempt[]>;
  /** The orders issued for one incident, oldest first. */
  attemptsFor(
    tenantId: string,
    applianceId: string,
    incidentId: string,
  ): Promise<IncidentAttempt[]>;
  /**
   * Distinct appliances (across every tenant) given `runbookId` since `since`; a withdrawn order
   * (it never ran) does not count.
   */
  countAppliancesForRunbook(
    runbookId: string,
    since: string,
    tiers: readonly ("L1" | "L2" | "L3")[],
  ): Promise<number>;
  /** Verified outcomes of one tier for a pattern of a tenant, per runbook and status. */
  attemptOutcomes(
    tenantId: string,
    patternKey: string,
    tier: "L1" | "L2" | "L3",
  ): Promise<{ runbookId: string; status: AttemptStatus; count: number }[]>;
}

// ── The decision chain (decisions.ts) ───────────────────────────────────────────────────────

export interface StoredDecision {
  readonly seq: number;
  readonly hash: string;
  readonly incidentId: string;
  readonly recordJson: string;
}

/**
 * One decision about an incident and everything it changes, committed as one transaction by
 * `commitDecision`: the incident's compare-and-set status change, the order (with its attempt
 * row) when the decision issues one, and the next record of the appliance's decision chain.
 */
export interface DecisionCommit {
  readonly tenantId: string;
  readonly applianceId: string;
  readonly incidentId: string;
  /** The status change: applied only when the incident's status is one of `from`. */
  readonly from: readonly IncidentStatus[];
  readonly to: IncidentStatus;
  readonly at: string;
  readonly note: Record<string, unknown>;
  /** The order this decision issues (its attempt row is recorded with it, status pending). */
  readonly order?: { readonly order: NewOrder; readonly patternKey: string };
  /** Gets the chain's current head, returns the signed record's JSON and its hash. */
  readonly seal: (prev: ChainHead) => { json: string; hash: string };
}

/**
 * Limits decided inside the committing transaction (an automatic order's guardrails): the
 * `locks` rows are taken first, in sorted order (`tenant:<id>` for the site's counters,
 * `runbook:<id>` for the blast radius across sites), so concurrent commits under one lock run
 * one after another and each `check` counts what the previous ones committed.
 */
export interface CommitGuard {
  readonly locks: readonly string[];
  check(counters: GuardrailCounters): Promise<boolean>;
}

/** What the guardrails count, read inside the committing transaction. */
export type GuardrailCounters = Pick<AttemptStore, "countAttempts" | "countAppliancesForRunbook">;

export interface DecisionStore {
  /**
   * Appends the next record of the appliance's decision chain atomically: `seal` gets the
   * current head and returns the signed record's JSON and its hash.
   */
  appendDecision(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    seal: (prev: ChainHead) => { json: string; hash: string },
  ): Promise<StoredDecision>;
  /**
   * Commits a decision atomically (see DecisionCommit): either the status change, the order and
   * the decision record all commit, or none does. Undefined (and nothing written) when the
   * incident is not in a `from` status: another worker already decided it, so a redelivered or
   * taken-over incident never gets a second decision or a second order.
   */
  commitDecision(
    commit: DecisionCommit,
  ): Promise<{ decision: StoredDecision; order: StoredOrder | undefined } | undefined>;
  /**
   * commitDecision after `guard` in the same transaction: when its check fails nothing of the
   * decision is written and the answer is `{ blocked: true }`.
   */
  commitGuardedDecision(
    commit: DecisionCommit,
    guard: CommitGuard,
  ): Promise<
    { decision: StoredDecision; order: StoredOrder | undefined } | { blocked: true } | undefined
  >;
  listDecisions(
    tenantId: string,
    applianceId: string,
    afterSeq: number,
    limit: number,
  ): Promise<StoredDecision[]>;
  decisionsForIncident(tenantId: string, incidentId: string): Promise<StoredDecision[]>;
}

// ── The flywheel: rule proposals and signed L1 rule sets (flywheel.ts) ──────────────────────

export type ProposalStatus = "proposed" | "approved" | "rejected";

export interface RuleProposal {
  readonly proposalId: string;
  readonly tenantId: string;
  readonly patternKey: string;
  readonly checkId: string;
  readonly finding: string;
  readonly runbookId: string;
  readonly successes: number;
  readonly status: ProposalStatus;
  readonly createdAt: string;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly note: string | null;
}

export interface StoredRuleSet {
  readonly tenantId: string;
  readonly version: number;
  readonly issuedAt: string;
  readonly rulesJson: string;
}

export interface FlywheelStore {
  /** False when the tenant already has a proposal for this pattern (one per pattern). */
  createProposal(
    proposal: Omit<RuleProposal, "decidedAt" | "decidedBy" | "note">,
  ): Promise<boolean>;
  getProposal(tenantId: string, proposalId: string): Promise<RuleProposal | undefined>;
  listProposals(tenantId: string): Promise<RuleProposal[]>;
  /** proposed → approved/rejected, once. */
  decideProposal(
    tenantId: string,
    proposalId: string,
    status: "approved" | "rejected",
    at: string,
    by: string,
    note: string | null,
  ): Promise<boolean>;

  latestRuleSet(tenantId: string): Promise<StoredRuleSet | undefined>;
  /** Inserts version `set.version`; false when that version exists (a concurrent writer won). */
  appendRuleSet(set: StoredRuleSet): Promise<boolean>;
}
