import type { Kysely } from "kysely";
import type { Database } from "../schema.ts";
import type { PlannerControlStore } from "./port.ts";

const KILL_SWITCH_ROW = "global";

/** Each site's planner policy (JSON, validated by the planner) and the global kill switch. */
export function plannerControlQueries(db: Kysely<Database>): PlannerControlStore {
  return {
    async getSitePolicy(tenantId) {
      const row = await db
        .selectFrom("site_policies")
        .select(["policy_json", "updated_at"])
        .where("tenant_id", "=", tenantId)
        .executeTakeFirst();
      return row ? { policyJson: row.policy_json, updatedAt: row.updated_at } : undefined;
    },

    async putSitePolicy(tenantId, policyJson, at, by) {
      const values = { policy_json: policyJson, updated_at: at, updated_by: by };
      await db
        .insertInto("site_policies")
        .values({ tenant_id: tenantId, ...values })
        .onConflict((oc) => oc.column("tenant_id").doUpdateSet(values))
        .execute();
    },

    async getKillSwitch() {
      const row = await db
        .selectFrom("planner_control")
        .selectAll()
        .where("id", "=", KILL_SWITCH_ROW)
        .executeTakeFirst();
      return row
        ? { engaged: Number(row.kill_switch) === 1, reason: row.reason, updatedAt: row.updated_at }
        : undefined;
    },

    async setKillSwitch(engaged, reason, at, by) {
      const values = { kill_switch: engaged ? 1 : 0, reason, updated_at: at, updated_by: by };
      await db
        .insertInto("planner_control")
        .values({ id: KILL_SWITCH_ROW, ...values })
        .onConflict((oc) => oc.column("id").doUpdateSet(values))
        .execute();
    },
  };
}
