import type { Kysely, Selectable } from "kysely";
import { type ChainHead, GENESIS_HEAD } from "#protocol";
import { appendToChain } from "../chain.ts";
import type { StoredOrder } from "../order-records.ts";
import { insertOrder } from "../orders.ts";
import { changedOne } from "../rows.ts";
import type { Database } from "../schema.ts";
import { attemptQueries, attemptValues } from "./attempts.ts";
import type { DecisionCommit, DecisionStore, StoredDecision } from "./port.ts";
import type { DecisionRecordsTable } from "./schema.ts";

type Seal = (prev: ChainHead) => { json: string; hash: string };

/**
 * The control plane's signed decision chain, one per appliance: every planner decision about an
 * incident is the next link. A decision commits with the incident's status change and the order
 * it issues in one transaction, appended through appendToChain, so a lost race re-runs the whole
 * decision on the new head and nothing of the loser is kept.
 */
export function decisionQueries(db: Kysely<Database>): DecisionStore {
  const decisions = (tenantId: string) =>
    db.selectFrom("decision_records").selectAll().where("tenant_id", "=", tenantId);

  return {
    appendDecision(tenantId, applianceId, incidentId, seal) {
      return appendToChain(db, (tx) => appendIn(tx, tenantId, applianceId, incidentId, seal));
    },

    commitDecision(c) {
      return appendToChain(db, (tx) => commitIn(tx, c));
    },

    commitGuardedDecision(c, guard) {
      return appendToChain(db, async (tx) => {
        await takeLocks(tx, guard.locks, c.at);
        if (!(await guard.check(attemptQueries(tx)))) return { blocked: true as const };
        return commitIn(tx, c);
      });
    },

    async listDecisions(tenantId, applianceId, afterSeq, limit) {
      const rows = await decisions(tenantId)
        .where("appliance_id", "=", applianceId)
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(toDecision);
    },

    async decisionsForIncident(tenantId, incidentId) {
      const rows = await decisions(tenantId)
        .where("incident_id", "=", incidentId)
        .orderBy("seq")
        .execute();
      return rows.map(toDecision);
    },
  };
}

/** The decision's status change, order and chain record (inside the transaction). */
async function commitIn(
  tx: Kysely<Database>,
  c: DecisionCommit,
): Promise<{ decision: StoredDecision; order: StoredOrder | undefined } | undefined> {
  const moved = await tx
    .updateTable("incident_state")
    .set({ status: c.to, updated_at: c.at, note_json: JSON.stringify(c.note) })
    .where("tenant_id", "=", c.tenantId)
    .where("appliance_id", "=", c.applianceId)
    .where("incident_id", "=", c.incidentId)
    .where("status", "in", [...c.from])
    .executeTakeFirst();
  if (!changedOne(moved)) return undefined;
  let order: StoredOrder | undefined;
  if (c.order) {
    order = await insertOrder(tx, c.tenantId, c.applianceId, c.order.order);
    const attempt = attemptValues({
      orderId: order.orderId,
      tenantId: c.tenantId,
      applianceId: c.applianceId,
      incidentId: c.incidentId,
      runbookId: order.runbookId,
      tier: order.tier,
      patternKey: c.order.patternKey,
      createdAt: order.issuedAt,
    });
    await tx.insertInto("incident_attempts").values(attempt).execute();
  }
  const decision = await appendIn(tx, c.tenantId, c.applianceId, c.incidentId, c.seal);
  return { decision, order };
}

/**
 * Takes the guardrail lock rows, in sorted order so two transactions never wait on each other
 * crosswise. An upsert that changes the row: PostgreSQL holds the row lock until the
 * transaction ends, so a second transaction waits here and, under READ COMMITTED, its next
 * statements see what the first one committed. SQLite: the first statement is a write, so the
 * transaction holds the database's single write lock from its start (another connection waits
 * its busy timeout), and one connection runs its transactions one at a time.
 */
async function takeLocks(tx: Kysely<Database>, scopes: readonly string[], at: string) {
  for (const scope of [...new Set(scopes)].sort()) {
    await tx
      .insertInto("guardrail_locks")
      .values({ scope, taken_at: at })
      .onConflict((oc) =>
        oc.column("scope").doUpdateSet({ taken_at: (eb) => eb.ref("excluded.taken_at") }),
      )
      .execute();
  }
}

/** Reads the appliance's chain head and inserts the sealed next record (inside a transaction). */
async function appendIn(
  tx: Kysely<Database>,
  tenantId: string,
  applianceId: string,
  incidentId: string,
  seal: Seal,
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
  return toDecision(row);
}

function toDecision(row: Selectable<DecisionRecordsTable>): StoredDecision {
  return {
    seq: Number(row.seq),
    hash: row.hash,
    incidentId: row.incident_id,
    recordJson: row.record_json,
  };
}
