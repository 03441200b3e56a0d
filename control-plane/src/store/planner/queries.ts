import type { Kysely, Selectable } from "kysely";
import { type ChainHead, GENESIS_HEAD } from "#protocol";
import { insertOrder } from "../order-queries.ts";
import type { StoredOrder } from "../port.ts";
import type { Database } from "../schema.ts";
import type {
  AttemptFilter,
  AttemptStatus,
  DecisionCommit,
  IncidentAttempt,
  IncidentState,
  IncidentStatus,
  PlannerStore,
  RuleProposal,
  StoredDecision,
  StoredRuleSet,
} from "./port.ts";
import type { IncidentAttemptsTable, RuleProposalsTable } from "./schema.ts";

const KILL_SWITCH_ROW = "global";

/** PlannerStore on Kysely: the same queries on SQLite and PostgreSQL. */
export class KyselyPlannerStore implements PlannerStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async getSitePolicy(tenantId: string) {
    const row = await this.#db
      .selectFrom("site_policies")
      .select(["policy_json", "updated_at"])
      .where("tenant_id", "=", tenantId)
      .executeTakeFirst();
    return row ? { policyJson: row.policy_json, updatedAt: row.updated_at } : undefined;
  }

  async putSitePolicy(tenantId: string, policyJson: string, at: string, by: string) {
    const values = { policy_json: policyJson, updated_at: at, updated_by: by };
    await this.#db
      .insertInto("site_policies")
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column("tenant_id").doUpdateSet(values))
      .execute();
  }

  async getKillSwitch() {
    const row = await this.#db
      .selectFrom("planner_control")
      .selectAll()
      .where("id", "=", KILL_SWITCH_ROW)
      .executeTakeFirst();
    return row
      ? { engaged: Number(row.kill_switch) === 1, reason: row.reason, updatedAt: row.updated_at }
      : undefined;
  }

  async setKillSwitch(engaged: boolean, reason: string, at: string, by: string) {
    const values = { kill_switch: engaged ? 1 : 0, reason, updated_at: at, updated_by: by };
    await this.#db
      .insertInto("planner_control")
      .values({ id: KILL_SWITCH_ROW, ...values })
      .onConflict((oc) => oc.column("id").doUpdateSet(values))
      .execute();
  }

  async openIncident(tenantId: string, applianceId: string, incidentId: string, at: string) {
    const existing = await this.#db
      .selectFrom("incident_state")
      .select("status")
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("incident_id", "=", incidentId)
      .executeTakeFirst();
    if (existing) return false;
    try {
      await this.#db
        .insertInto("incident_state")
        .values({
          tenant_id: tenantId,
          appliance_id: applianceId,
          incident_id: incidentId,
          status: "queued",
          updated_at: at,
          note_json: "{}",
        })
        .execute();
      return true;
    } catch {
      return false; // a concurrent resend inserted it first
    }
  }

  #incidents() {
    return this.#db
      .selectFrom("incident_state as s")
      .innerJoin("incidents as i", (j) =>
        j
          .onRef("i.tenant_id", "=", "s.tenant_id")
          .onRef("i.appliance_id", "=", "s.appliance_id")
          .onRef("i.incident_id", "=", "s.incident_id"),
      )
      .select([
        "s.tenant_id",
        "s.appliance_id",
        "s.incident_id",
        "s.status",
        "s.updated_at",
        "s.note_json",
        "i.body_json",
        "i.received_at",
      ]);
  }

  async getIncident(tenantId: string, applianceId: string, incidentId: string) {
    const row = await this.#incidents()
      .where("s.tenant_id", "=", tenantId)
      .where("s.appliance_id", "=", applianceId)
      .where("s.incident_id", "=", incidentId)
      .executeTakeFirst();
    return row ? toIncident(row) : undefined;
  }

  async transitionIncident(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    from: readonly IncidentStatus[],
    to: IncidentStatus,
    at: string,
    note: Record<string, unknown>,
  ) {
    const result = await this.#db
      .updateTable("incident_state")
      .set({ status: to, updated_at: at, note_json: JSON.stringify(note) })
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("incident_id", "=", incidentId)
      .where("status", "in", [...from])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async incidentsIn(status: IncidentStatus, tenantId: string | null, limit: number) {
    let query = this.#incidents().where("s.status", "=", status);
    if (tenantId !== null) query = query.where("s.tenant_id", "=", tenantId);
    const rows = await query.orderBy("i.received_at").limit(limit).execute();
    return rows.map(toIncident);
  }

  async recordAttempt(a: Omit<IncidentAttempt, "status" | "finishedAt">) {
    await this.#db
      .insertInto("incident_attempts")
      .values({
        order_id: a.orderId,
        tenant_id: a.tenantId,
        appliance_id: a.applianceId,
        incident_id: a.incidentId,
        runbook_id: a.runbookId,
        tier: a.tier,
        pattern_key: a.patternKey,
        created_at: a.createdAt,
        status: "pending",
        finished_at: null,
      })
      .execute();
  }

  async finishAttempt(
    tenantId: string,
    orderId: string,
    status: Exclude<AttemptStatus, "pending">,
    at: string,
  ) {
    const result = await this.#db
      .updateTable("incident_attempts")
      .set({ status, finished_at: at })
      .where("tenant_id", "=", tenantId)
      .where("order_id", "=", orderId)
      .where("status", "=", "pending")
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.#db
      .selectFrom("incident_attempts")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("order_id", "=", orderId)
      .executeTakeFirstOrThrow();
    return toAttempt(row);
  }

  async countAttempts(f: AttemptFilter) {
    let query = this.#db
      .selectFrom("incident_attempts")
      .select((eb) => eb.fn.countAll<number>().as("n"));
    if (f.tenantId !== undefined) query = query.where("tenant_id", "=", f.tenantId);
    if (f.applianceId !== undefined) query = query.where("appliance_id", "=", f.applianceId);
    if (f.incidentId !== undefined) query = query.where("incident_id", "=", f.incidentId);
    if (f.runbookId !== undefined) query = query.where("runbook_id", "=", f.runbookId);
    if (f.since !== undefined) query = query.where("created_at", ">=", f.since);
    if (f.tiers !== undefined) query = query.where("tier", "in", [...f.tiers]);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async staleAttempts(createdBefore: string, limit: number) {
    const rows = await this.#db
      .selectFrom("incident_attempts")
      .selectAll()
      .where("status", "=", "pending")
      .where("created_at", "<", createdBefore)
      .orderBy("created_at")
      .limit(limit)
      .execute();
    return rows.map(toAttempt);
  }

  async attemptsFor(tenantId: string, applianceId: string, incidentId: string) {
    const rows = await this.#db
      .selectFrom("incident_attempts")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("incident_id", "=", incidentId)
      .orderBy("created_at")
      .execute();
    return rows.map(toAttempt);
  }

  async countAppliancesForRunbook(
    runbookId: string,
    since: string,
    tiers: readonly ("L1" | "L2" | "L3")[],
  ) {
    const rows = await this.#db
      .selectFrom("incident_attempts")
      .select(["tenant_id", "appliance_id"])
      .distinct()
      .where("runbook_id", "=", runbookId)
      .where("created_at", ">=", since)
      .where("tier", "in", [...tiers])
      .execute();
    return rows.length;
  }

  async attemptOutcomes(tenantId: string, patternKey: string, tier: "L1" | "L2" | "L3") {
    const rows = await this.#db
      .selectFrom("incident_attempts")
      .select((eb) => ["runbook_id", "status", eb.fn.countAll<number>().as("n")])
      .where("tenant_id", "=", tenantId)
      .where("pattern_key", "=", patternKey)
      .where("tier", "=", tier)
      .groupBy(["runbook_id", "status"])
      .execute();
    return rows.map((r) => ({
      runbookId: r.runbook_id,
      status: r.status as AttemptStatus,
      count: Number(r.n),
    }));
  }

  async appendDecision(
    tenantId: string,
    applianceId: string,
    incidentId: string,
    seal: (prev: ChainHead) => { json: string; hash: string },
  ): Promise<StoredDecision> {
    return this.#retryingChain((tx) => appendIn(tx, tenantId, applianceId, incidentId, seal));
  }

  async commitDecision(c: DecisionCommit) {
    return this.#retryingChain(async (tx) => {
      const moved = await tx
        .updateTable("incident_state")
        .set({ status: c.to, updated_at: c.at, note_json: JSON.stringify(c.note) })
        .where("tenant_id", "=", c.tenantId)
        .where("appliance_id", "=", c.applianceId)
        .where("incident_id", "=", c.incidentId)
        .where("status", "in", [...c.from])
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return undefined;
      let order: StoredOrder | undefined;
      if (c.order) {
        order = await insertOrder(tx, c.tenantId, c.applianceId, c.order.order);
        await tx
          .insertInto("incident_attempts")
          .values({
            order_id: order.orderId,
            tenant_id: c.tenantId,
            appliance_id: c.applianceId,
            incident_id: c.incidentId,
            runbook_id: order.runbookId,
            tier: order.tier,
            pattern_key: c.order.patternKey,
            created_at: order.issuedAt,
            status: "pending",
            finished_at: null,
          })
          .execute();
      }
      const decision = await appendIn(tx, c.tenantId, c.applianceId, c.incidentId, c.seal);
      return { decision, order };
    });
  }

  /**
   * Runs a transaction that appends to a decision chain. Like the audit log: two writers may read
   * one head; the primary key on (appliance, seq) makes one fail, and it retries the whole
   * transaction on the new head, so the chain never forks and nothing of the loser is kept.
   */
  async #retryingChain<T>(work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#db.transaction().execute(work);
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
  }

  async listDecisions(tenantId: string, applianceId: string, afterSeq: number, limit: number) {
    const rows = await this.#db
      .selectFrom("decision_records")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("appliance_id", "=", applianceId)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toDecision);
  }

  async decisionsForIncident(tenantId: string, incidentId: string) {
    const rows = await this.#db
      .selectFrom("decision_records")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("incident_id", "=", incidentId)
      .orderBy("seq")
      .execute();
    return rows.map(toDecision);
  }

  async createProposal(p: Omit<RuleProposal, "decidedAt" | "decidedBy" | "note">) {
    const existing = await this.#db
      .selectFrom("rule_proposals")
      .select("proposal_id")
      .where("tenant_id", "=", p.tenantId)
      .where("pattern_key", "=", p.patternKey)
      .executeTakeFirst();
    if (existing) return false;
    try {
      await this.#db
        .insertInto("rule_proposals")
        .values({
          proposal_id: p.proposalId,
          tenant_id: p.tenantId,
          pattern_key: p.patternKey,
          check_id: p.checkId,
          finding: p.finding,
          runbook_id: p.runbookId,
          successes: p.successes,
          status: p.status,
          created_at: p.createdAt,
          decided_at: null,
          decided_by: null,
          note: null,
        })
        .execute();
      return true;
    } catch {
      return false; // the unique (tenant, pattern) constraint: a concurrent proposal won
    }
  }

  async getProposal(tenantId: string, proposalId: string) {
    const row = await this.#db
      .selectFrom("rule_proposals")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("proposal_id", "=", proposalId)
      .executeTakeFirst();
    return row ? toProposal(row) : undefined;
  }

  async listProposals(tenantId: string) {
    const rows = await this.#db
      .selectFrom("rule_proposals")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .orderBy("created_at")
      .execute();
    return rows.map(toProposal);
  }

  async decideProposal(
    tenantId: string,
    proposalId: string,
    status: "approved" | "rejected",
    at: string,
    by: string,
    note: string | null,
  ) {
    const result = await this.#db
      .updateTable("rule_proposals")
      .set({ status, decided_at: at, decided_by: by, note })
      .where("tenant_id", "=", tenantId)
      .where("proposal_id", "=", proposalId)
      .where("status", "=", "proposed")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async latestRuleSet(tenantId: string) {
    const row = await this.#db
      .selectFrom("l1_rule_sets")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    return row
      ? {
          tenantId: row.tenant_id,
          version: Number(row.version),
          issuedAt: row.issued_at,
          rulesJson: row.rules_json,
        }
      : undefined;
  }

  async appendRuleSet(set: StoredRuleSet) {
    try {
      await this.#db
        .insertInto("l1_rule_sets")
        .values({
          tenant_id: set.tenantId,
          version: set.version,
          issued_at: set.issuedAt,
          rules_json: set.rulesJson,
        })
        .execute();
      return true;
    } catch {
      return false;
    }
  }
}

async function appendIn(
  tx: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  incidentId: string,
  seal: (prev: ChainHead) => { json: string; hash: string },
): Promise<StoredDecision> {
  const last = await tx
    .selectFrom("decision_records")
    .select(["seq", "hash"])
    .where("tenant_id", "=", tenantId)
    .where("appliance_id", "=", applianceId)
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  const prev = last ? { seq: Number(last.seq), hash: last.hash } : GENESIS_HEAD;
  const sealed = seal(prev);
  const row = {
    tenant_id: tenantId,
    appliance_id: applianceId,
    seq: prev.seq + 1,
    hash: sealed.hash,
    incident_id: incidentId,
    record_json: sealed.json,
  };
  await tx.insertInto("decision_records").values(row).execute();
  return { seq: row.seq, hash: row.hash, incidentId, recordJson: row.record_json };
}

function toIncident(row: {
  tenant_id: string;
  appliance_id: string;
  incident_id: string;
  status: string;
  updated_at: string;
  note_json: string;
  body_json: string;
  received_at: string;
}): IncidentState {
  return {
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    incidentId: row.incident_id,
    status: row.status as IncidentStatus,
    updatedAt: row.updated_at,
    note: JSON.parse(row.note_json),
    bodyJson: row.body_json,
    receivedAt: row.received_at,
  };
}

function toAttempt(row: Selectable<IncidentAttemptsTable>): IncidentAttempt {
  return {
    orderId: row.order_id,
    tenantId: row.tenant_id,
    applianceId: row.appliance_id,
    incidentId: row.incident_id,
    runbookId: row.runbook_id,
    tier: row.tier as IncidentAttempt["tier"],
    patternKey: row.pattern_key,
    createdAt: row.created_at,
    status: row.status as AttemptStatus,
    finishedAt: row.finished_at,
  };
}

function toDecision(row: {
  seq: number;
  hash: string;
  incident_id: string;
  record_json: string;
}): StoredDecision {
  return {
    seq: Number(row.seq),
    hash: row.hash,
    incidentId: row.incident_id,
    recordJson: row.record_json,
  };
}

function toProposal(row: Selectable<RuleProposalsTable>): RuleProposal {
  return {
    proposalId: row.proposal_id,
    tenantId: row.tenant_id,
    patternKey: row.pattern_key,
    checkId: row.check_id,
    finding: row.finding,
    runbookId: row.runbook_id,
    successes: Number(row.successes),
    status: row.status as RuleProposal["status"],
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
    note: row.note,
  };
}
