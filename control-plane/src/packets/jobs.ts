import { randomUUID } from "node:crypto";
import { isCodedError, TenantId } from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { PacketJobRecord } from "../store/index.ts";
import { assertStarted } from "./gather.ts";
import { generatePacket, needReason, type PacketDeps, parseReason } from "./generate.ts";
import { Month } from "./month.ts";

/** How often a running job writes its progress, at most. */
const PROGRESS_EVERY_MS = 500;

export interface PacketJobs {
  /**
   * Queues a packet and returns its job at once; the work runs off the request path. What can be
   * refused without reading evidence (a bad month, an unknown tenant, a missing reason for a
   * second version) is refused here.
   */
  submit(
    tenantId: string,
    month: string,
    request: { requestedBy: string; reason?: string | null },
  ): Promise<PacketJobRecord>;
  /** Queues a failed job again as a new job (the failed one stays, with its error). */
  rerun(tenantId: string, jobId: string, requestedBy: string): Promise<PacketJobRecord>;
  /** Resolves when no job is running or queued here (tests and shutdown). */
  idle(): Promise<void>;
}

/**
 * Runs packet jobs one at a time in this process, taking queued jobs from the Store (a job
 * queued by another instance is taken by whichever runner claims it first). Progress, the
 * version made or the error are written to the job's row.
 */
export function packetJobs(
  deps: PacketDeps & {
    /** Called with a job that made its version, before the job reads as done. */
    readonly made?: (job: PacketJobRecord) => Promise<void>;
    /** Where the cause of a failure goes (the job itself shows only a coded message). */
    readonly logFailure: (job: PacketJobRecord, error: unknown) => void;
  },
): PacketJobs {
  const { store } = deps;
  let running: Promise<void> | null = null;

  const kick = () => {
    running ??= drain().finally(() => {
      running = null;
    });
  };

  async function drain(): Promise<void> {
    // A macrotask first, so the request that queued the job is answered before the work starts.
    await new Promise((r) => setImmediate(r));
    for (;;) {
      const [next] = await store.listQueuedPacketJobs(1);
      if (!next) return;
      if (!(await store.startPacketJob(next.jobId, deps.now().toISOString()))) continue;
      await runOne(next);
    }
  }

  async function runOne(job: PacketJobRecord): Promise<void> {
    let last = 0;
    let written = Promise.resolve();
    const progress = (fraction: number) => {
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      written = written.then(() => store.setPacketJobProgress(job.jobId, 1000 * fraction));
    };
    try {
      const made = await generatePacket(
        deps,
        job.tenantId,
        job.month,
        { requestedBy: job.requestedBy, reason: job.reason },
        progress,
      );
      await written;
      const version = made.record.version;
      await deps.made?.({ ...job, status: "done", version });
      await store.finishPacketJob(job.jobId, { status: "done", version }, deps.now().toISOString());
    } catch (error) {
      await written.catch(() => {});
      deps.logFailure(job, error);
      // What the operator may read: our own coded messages; anything else stays in the log.
      const message = isCodedError(error)
        ? error.message
        : "internal error while generating (see the control plane's log)";
      await store.finishPacketJob(
        job.jobId,
        { status: "failed", error: message },
        deps.now().toISOString(),
      );
    }
  }

  async function queue(
    tenantId: string,
    month: string,
    requestedBy: string,
    reason: string | null,
    rerunOf: string | null,
  ): Promise<PacketJobRecord> {
    const job: PacketJobRecord = {
      jobId: randomUUID(),
      tenantId,
      month,
      requestedBy,
      reason,
      status: "queued",
      progress: 0,
      error: null,
      rerunOf,
      version: null,
      createdAt: deps.now().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    await store.createPacketJob(job);
    kick();
    return job;
  }

  return {
    async submit(tenantId, month, request) {
      if (!TenantId.safeParse(tenantId).success || !(await store.getTenant(tenantId)))
        throw new ControlPlaneError("unknown_tenant", "no such tenant");
      if (!Month.safeParse(month).success)
        throw new ControlPlaneError("invalid_month", "use a month such as 2026-11 (YYYY-MM)");
      assertStarted(month, deps.now());
      const reason = request.reason == null ? null : parseReason(request.reason);
      needReason(await store.getPacket(tenantId, month), reason);
      return queue(tenantId, month, request.requestedBy, reason, null);
    },

    async rerun(tenantId, jobId, requestedBy) {
      const failed = await store.getPacketJob(tenantId, jobId);
      if (!failed) throw new ControlPlaneError("not_found", "no such packet job");
      if (failed.status !== "failed")
        throw new ControlPlaneError(
          "conflict",
          `job is ${failed.status}; only a failed job is run again`,
        );
      return queue(tenantId, failed.month, requestedBy, failed.reason, failed.jobId);
    },

    async idle() {
      while (running) await running;
    },
  };
}

/** A job as the API and the dashboard show it. */
export function jobView(j: PacketJobRecord) {
  return {
    job_id: j.jobId,
    month: j.month,
    status: j.status,
    progress: j.progress / 1000,
    requested_by: j.requestedBy,
    reason: j.reason,
    error: j.error,
    rerun_of: j.rerunOf,
    version: j.version,
    created_at: j.createdAt,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
  };
}
