import type { Kysely, Selectable } from "kysely";
import { changedOne, insertUnlessTaken } from "../rows.ts";
import type { Database } from "../schema.ts";
import type { FlywheelStore, RuleProposal } from "./port.ts";
import type { RuleProposalsTable } from "./schema.ts";

/**
 * The flywheel's state per tenant: rule proposals learnt from repeated L2 successes (one per
 * pattern, decided once by an operator) and the versioned, signed L1 rule sets built from the
 * approved ones. Both inserts rely on a unique key, so a concurrent writer loses cleanly.
 */
export function flywheelQueries(db: Kysely<Database>): FlywheelStore {
  const proposals = (tenantId: string) =>
    db.selectFrom("rule_proposals").selectAll().where("tenant_id", "=", tenantId);

  return {
    async createProposal(p) {
      const existing = await proposals(p.tenantId)
        .where("pattern_key", "=", p.patternKey)
        .executeTakeFirst();
      if (existing) return false;
      // The unique (tenant, pattern) constraint decides between concurrent proposals.
      return insertUnlessTaken(() =>
        db
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
          .execute(),
      );
    },

    async getProposal(tenantId, proposalId) {
      const row = await proposals(tenantId)
        .where("proposal_id", "=", proposalId)
        .executeTakeFirst();
      return row ? toProposal(row) : undefined;
    },

    async listProposals(tenantId) {
      const rows = await proposals(tenantId).orderBy("created_at").execute();
      return rows.map(toProposal);
    },

    async decideProposal(tenantId, proposalId, status, at, by, note) {
      const result = await db
        .updateTable("rule_proposals")
        .set({ status, decided_at: at, decided_by: by, note })
        .where("tenant_id", "=", tenantId)
        .where("proposal_id", "=", proposalId)
        .where("status", "=", "proposed")
        .executeTakeFirst();
      return changedOne(result);
    },

    async latestRuleSet(tenantId) {
      const row = await db
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
    },

    appendRuleSet(set) {
      return insertUnlessTaken(() =>
        db
          .insertInto("l1_rule_sets")
          .values({
            tenant_id: set.tenantId,
            version: set.version,
            issued_at: set.issuedAt,
            rules_json: set.rulesJson,
          })
          .execute(),
      );
    },
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
