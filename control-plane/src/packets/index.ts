/**
 * Monthly compliance packets (issue 11): one site (tenant) and one month as Markdown and PDF,
 * with a manifest signed by the control plane's order-signing key. Produced by the CLI
 * (`control-plane packet`), the operator API and the first-of-month job in `serve`.
 */
import type { Logger } from "../logger.ts";
import { type PacketDeps, runMonthlyPackets } from "./generate.ts";
import { previousMonth } from "./month.ts";

export { PacketError } from "./gather.ts";
export {
  generatePacket,
  listPackets,
  PACKET_FILES,
  type PacketDeps,
  type PacketFile,
  type PacketManifest,
  packetDir,
  runMonthlyPackets,
} from "./generate.ts";
export { Month, monthRange, previousMonth } from "./month.ts";

/**
 * Checks hourly; on the first of a month (UTC) generates last month's packets that are missing.
 * Never overlaps itself.
 */
export function startPacketJob(
  deps: PacketDeps & { readonly tenants: () => Promise<readonly string[]> },
  logger: Logger,
  intervalMs = 3_600_000,
) {
  let running: Promise<void> | undefined;
  const tick = () => {
    const now = deps.now();
    if (running || now.getUTCDate() !== 1) return;
    const month = previousMonth(now);
    running = runMonthlyPackets(deps, month)
      .then((made) => {
        if (made.length > 0)
          logger.log("info", "monthly packets generated", { month, tenants: made });
      })
      .catch((error: unknown) =>
        logger.log("warn", "monthly packet job failed", {
          error: error instanceof Error ? error.name : "unknown",
        }),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
