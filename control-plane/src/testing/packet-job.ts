import { setTimeout as sleep } from "node:timers/promises";
import type { Harness } from "./harness.ts";

export interface PacketJobView {
  readonly job_id: string;
  readonly status: "queued" | "running" | "done" | "failed";
  readonly progress: number;
  readonly version: number | null;
  readonly error: string | null;
  readonly rerun_of: string | null;
}

/** Waits until a packet job is done or failed, through the operator API, as a client would. */
export async function awaitPacketJob(
  admin: Harness["admin"],
  tenant: string,
  jobId: string,
): Promise<PacketJobView> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(50)) {
    const res = await admin(`/tenants/${tenant}/packet-jobs/${jobId}`);
    const job = (await res.json()) as PacketJobView;
    if (job.status === "done" || job.status === "failed") return job;
  }
  throw new Error(`packet job ${jobId} did not finish in 120 s`);
}

/** Asks for a packet (202 with its job at once) and waits for the job; throws if it failed. */
export async function makePacket(
  admin: Harness["admin"],
  tenant: string,
  body: { month: string; reason?: string },
): Promise<PacketJobView> {
  const res = await admin(`/tenants/${tenant}/packets`, body);
  if (res.status !== 202) throw new Error(`packet: ${res.status} ${await res.text()}`);
  const queued = (await res.json()) as PacketJobView;
  const job = await awaitPacketJob(admin, tenant, queued.job_id);
  if (job.status !== "done") throw new Error(`packet job failed: ${job.error}`);
  return job;
}
