import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { isCodedError, Uuid } from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import {
  jobView,
  listPackets,
  Month,
  PACKET_FILES,
  type PacketFile,
  type PacketJobs,
  PacketReason,
  packetDir,
  packetJobs,
} from "../../packets/index.ts";
import { defineRoute, FILE_BYTES, operatorApi, type Route } from "../registry.ts";
import { PacketJob, PacketJobs as PacketJobList, Packets } from "./responses.ts";
import { TenantParams } from "./schemas.ts";
import { tenantRead } from "./views.ts";

const CreatePacket = z.strictObject({ month: Month, reason: PacketReason.optional() });
const PacketFileParams = TenantParams.extend({ month: Month, file: z.enum(PACKET_FILES) });
const JobParams = TenantParams.extend({ job: Uuid });
const VersionFileParams = PacketFileParams.extend({
  version: z.string().regex(/^[1-9][0-9]{0,5}$/, "a version number such as 2"),
});
const TYPES: Record<(typeof PACKET_FILES)[number], string> = {
  "packet.pdf": "application/pdf",
  "packet.md": "text/markdown; charset=utf-8",
  "manifest.json": "application/json",
  "control-plane.pub.pem": "application/x-pem-file",
};

/**
 * Compliance packets under the admin and operator APIs (docs: control-plane/README.md). Client
 * input never becomes a path: the tenant is a DNS label, the month strictly YYYY-MM and the file
 * one of four fixed names.
 */
export function packetRoutes(s: Services): Route[] {
  const list = tenantRead(
    "/packets",
    "list_packets",
    "A tenant's compliance packets",
    Packets,
    async (t) => ({
      packets: await listPackets(s.store, t),
    }),
    "evidence",
  );

  const create = defineRoute({
    method: "post",
    path: "/tenants/{tenant}/packets",
    operationId: "create_packet",
    summary:
      "Queue a tenant's packet for a month (again: the next version, reason required); answers with the job at once",
    auth: operatorApi("evidence"),
    params: TenantParams,
    body: CreatePacket,
    response: { status: 202, schema: PacketJob },
    handler: async (c, { params, body: { month, reason } }) => {
      const job = await requestPacket(s, c.get("adminActor"), params.tenant, month, reason);
      return c.json(jobView(job), 202);
    },
  });

  const jobs = tenantRead(
    "/packet-jobs",
    "list_packet_jobs",
    "A tenant's packet jobs, newest first: status, progress, the version made or the error",
    PacketJobList,
    async (t) => ({ jobs: (await s.store.listPacketJobs(t, 100)).map(jobView) }),
    "evidence",
  );

  const job = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packet-jobs/{job}",
    operationId: "get_packet_job",
    summary: "One packet job: status (queued, running, done, failed), progress, version or error",
    auth: operatorApi("evidence"),
    params: JobParams,
    response: { schema: PacketJob },
    handler: async (c, { params }) => {
      const found = await s.store.getPacketJob(params.tenant, params.job);
      if (!found) throw new ControlPlaneError("not_found", "no such packet job");
      return c.json(jobView(found));
    },
  });

  const rerun = defineRoute({
    method: "post",
    path: "/tenants/{tenant}/packet-jobs/{job}/rerun",
    operationId: "rerun_packet_job",
    summary: "Queue a failed packet job again as a new job; the failed one keeps its error",
    auth: operatorApi("evidence"),
    params: JobParams,
    response: { status: 202, schema: PacketJob },
    handler: async (c, { params }) =>
      c.json(jobView(await rerunPacketJob(s, c.get("adminActor"), params.tenant, params.job)), 202),
  });

  const serveFile = async (tenantId: string, month: string, file: PacketFile, version?: number) => {
    const packets = packetsConfig(s);
    const record = await s.store.getPacket(tenantId, month, version);
    if (!record) throw new ControlPlaneError("not_found", "no such packet");
    const path = join(packetDir(packets.dir, tenantId, month, record.version), file);
    if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such packet file");
    return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
      headers: {
        "content-type": TYPES[file],
        "content-disposition": `attachment; filename="${tenantId}-${month}-v${record.version}-${file}"`,
        "x-content-type-options": "nosniff",
      },
    });
  };

  const file = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packets/{month}/{file}",
    operationId: "get_packet_file",
    summary: "One file of a packet's latest version (PDF, Markdown or its signed manifest)",
    auth: operatorApi("evidence"),
    params: PacketFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: (_c, { params }) => serveFile(params.tenant, params.month, params.file),
  });

  const versionFile = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packets/{month}/versions/{version}/{file}",
    operationId: "get_packet_version_file",
    summary: "One file of one version of a packet; every version is kept",
    auth: operatorApi("evidence"),
    params: VersionFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: (_c, { params }) =>
      serveFile(params.tenant, params.month, params.file, Number(params.version)),
  });
  return [list, create, jobs, job, rerun, file, versionFile];
}

function packetsConfig(s: Services) {
  if (!s.packets) throw new ControlPlaneError("unavailable", "packets are not configured");
  return s.packets;
}

const runners = new WeakMap<Services, PacketJobs>();

/** The packet job runner of this control plane (one per set of services). */
export function packetJobsOf(s: Services): PacketJobs {
  const packets = packetsConfig(s);
  let runner = runners.get(s);
  if (!runner) {
    runner = packetJobs({
      store: s.store,
      signer: s.signer,
      catalogDir: packets.catalogDir,
      packetsDir: packets.dir,
      archiveKind: s.archiveKind ?? "unknown",
      now: s.now,
      logFailure: (j, error) =>
        s.logger.log("error", "packet job failed", {
          err: error,
          job_id: j.jobId,
          tenant_id: j.tenantId,
        }),
      made: async (j) => {
        const made = await s.store.getPacket(j.tenantId, j.month, j.version ?? undefined);
        await s.audit.record(j.requestedBy, "packet.generated", j.tenantId, {
          month: j.month,
          version: j.version,
          reason: j.reason,
          job_id: j.jobId,
          files: made?.files ?? {},
          counts: made?.counts ?? {},
        });
      },
    });
    runners.set(s, runner);
  }
  return runner;
}

/**
 * Queues a tenant's packet for a month (the next version, with its reason, if one exists) on an
 * operator's request; the job records who asked, and the packet is audited under that name when
 * it is made. The API route and the dashboard's form both come here.
 */
export async function requestPacket(
  s: Services,
  actor: string,
  tenantId: string,
  month: string,
  reason?: string,
) {
  try {
    return await packetJobsOf(s).submit(tenantId, month, { requestedBy: actor, reason });
  } catch (error) {
    if (isCodedError(error, "unknown_tenant"))
      throw new ControlPlaneError("not_found", "no such tenant");
    if (isCodedError(error, "invalid_month"))
      throw new ControlPlaneError("invalid_request", error.message);
    throw error;
  }
}

/** Runs a failed job again as a new job, audited under the operator who asked. */
export async function rerunPacketJob(s: Services, actor: string, tenantId: string, jobId: string) {
  const job = await packetJobsOf(s).rerun(tenantId, jobId, actor);
  await s.audit.record(actor, "packet.rerun", tenantId, { job_id: job.jobId, rerun_of: jobId });
  return job;
}
