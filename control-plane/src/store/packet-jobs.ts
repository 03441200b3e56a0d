import type { Kysely } from "kysely";
import type { PacketJobRecord, PacketStore, VerifiedHeadRecord } from "./port.ts";
import { changedOne, mapRow } from "./rows.ts";
import type { Database, PacketJobsTable } from "./schema.ts";

type JobQueries = Pick<
  PacketStore,
  | "createPacketJob"
  | "getPacketJob"
  | "listPacketJobs"
  | "listQueuedPacketJobs"
  | "startPacketJob"
  | "setPacketJobProgress"
  | "finishPacketJob"
  | "getVerifiedHead"
  | "putVerifiedHead"
>;

/**
 * Packet jobs (one row each, moved queued → running → done or failed by compare-and-swap, so
 * two runners never run one job) and the verified heads packets keep per appliance.
 */
export function packetJobQueries(db: Kysely<Database>): JobQueries {
  const jobs = () => db.selectFrom("packet_jobs").selectAll();
  return {
    async createPacketJob(j) {
      await db
        .insertInto("packet_jobs")
        .values({
          job_id: j.jobId,
          tenant_id: j.tenantId,
          month: j.month,
          requested_by: j.requestedBy,
          status: j.status,
          progress: j.progress,
          reason: j.reason,
          error: j.error,
          rerun_of: j.rerunOf,
          version: j.version,
          created_at: j.createdAt,
          started_at: j.startedAt,
          finished_at: j.finishedAt,
        })
        .execute();
    },

    async getPacketJob(tenantId, jobId) {
      const row = await jobs()
        .where("tenant_id", "=", tenantId)
        .where("job_id", "=", jobId)
        .executeTakeFirst();
      return mapRow(row, jobRecord);
    },

    async listPacketJobs(tenantId, limit) {
      const rows = await jobs()
        .where("tenant_id", "=", tenantId)
        .orderBy("created_at", "desc")
        .orderBy("job_id")
        .limit(limit)
        .execute();
      return rows.map(jobRecord);
    },

    async listQueuedPacketJobs(limit) {
      const rows = await jobs()
        .where("status", "=", "queued")
        .orderBy("created_at")
        .orderBy("job_id")
        .limit(limit)
        .execute();
      return rows.map(jobRecord);
    },

    async startPacketJob(jobId, at) {
      const result = await db
        .updateTable("packet_jobs")
        .set({ status: "running", started_at: at, progress: 0 })
        .where("job_id", "=", jobId)
        .where("status", "=", "queued")
        .executeTakeFirst();
      return changedOne(result);
    },

    async setPacketJobProgress(jobId, progress) {
      await db
        .updateTable("packet_jobs")
        .set({ progress: Math.max(0, Math.min(1000, Math.round(progress))) })
        .where("job_id", "=", jobId)
        .where("status", "=", "running")
        .execute();
    },

    async finishPacketJob(jobId, outcome, at) {
      await db
        .updateTable("packet_jobs")
        .set(
          outcome.status === "done"
            ? { status: "done", progress: 1000, version: outcome.version, finished_at: at }
            : { status: "failed", error: outcome.error, finished_at: at },
        )
        .where("job_id", "=", jobId)
        .where("status", "=", "running")
        .execute();
    },

    async getVerifiedHead(tenantId, applianceId) {
      const row = await db
        .selectFrom("evidence_verified_heads")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("appliance_id", "=", applianceId)
        .executeTakeFirst();
      return mapRow(
        row,
        (r): VerifiedHeadRecord => ({
          tenantId: r.tenant_id,
          applianceId: r.appliance_id,
          seq: Number(r.seq),
          headJson: r.head_json,
        }),
      );
    },

    async putVerifiedHead(h) {
      await db
        .insertInto("evidence_verified_heads")
        .values({
          tenant_id: h.tenantId,
          appliance_id: h.applianceId,
          seq: h.seq,
          head_json: h.headJson,
        })
        .onConflict((oc) =>
          oc
            .columns(["tenant_id", "appliance_id"])
            .doUpdateSet({ seq: h.seq, head_json: h.headJson })
            .where("evidence_verified_heads.seq", "<", h.seq),
        )
        .execute();
    },
  };
}

function jobRecord(row: PacketJobsTable): PacketJobRecord {
  return {
    jobId: row.job_id,
    tenantId: row.tenant_id,
    month: row.month,
    requestedBy: row.requested_by,
    reason: row.reason,
    status: row.status as PacketJobRecord["status"],
    progress: Number(row.progress),
    error: row.error,
    rerunOf: row.rerun_of,
    version: row.version === null ? null : Number(row.version),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
