/**
 * Monthly compliance packets: one site (tenant) and one month as Markdown and PDF,
 * with a manifest signed by the control plane's order-signing key. Produced by the CLI
 * (`control-plane packet`), the operator API and the first-of-month job in `serve`, which runs
 * under a cross-instance lease (jobs/lease.ts, startMonthlyJob).
 */
export {
  generatePacket,
  listPackets,
  PACKET_FILES,
  type PacketDeps,
  type PacketFile,
  PacketManifest,
  PacketReason,
  type PacketRequest,
  packetDir,
  runMonthlyPackets,
} from "./generate.ts";
export { jobView, type PacketJobs, packetJobs } from "./jobs.ts";
export { Month, monthRange, previousMonth } from "./month.ts";
