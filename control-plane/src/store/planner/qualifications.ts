import type { Kysely } from "kysely";
import type { Database } from "../schema.ts";
import type { QualificationStore } from "./port.ts";

/** Qualification reports of models, newest per model server and model first. */
export function qualificationQueries(db: Kysely<Database>): QualificationStore {
  return {
    async recordQualification(q) {
      await db
        .insertInto("model_qualifications")
        .values({
          base_url: q.baseUrl,
          model: q.model,
          recorded_at: q.recordedAt,
          passed: q.passed ? 1 : 0,
          report_json: q.reportJson,
          recorded_by: q.recordedBy,
        })
        .execute();
    },

    async latestQualification(baseUrl, model) {
      const row = await db
        .selectFrom("model_qualifications")
        .selectAll()
        .where("base_url", "=", baseUrl)
        .where("model", "=", model)
        .orderBy("recorded_at", "desc")
        .limit(1)
        .executeTakeFirst();
      return row
        ? {
            baseUrl: row.base_url,
            model: row.model,
            recordedAt: row.recorded_at,
            passed: Number(row.passed) === 1,
            reportJson: row.report_json,
            recordedBy: row.recorded_by,
          }
        : undefined;
    },
  };
}
