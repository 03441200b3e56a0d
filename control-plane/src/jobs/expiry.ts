import type { Logger } from "../logger.ts";
import { FAILURE_WINDOW_MS } from "../operator/sign-in.ts";
import type { ExpiredRows, Store } from "../store/index.ts";
import { startScheduledJob } from "./lease.ts";

/** How often expired rows are deleted. */
export const EXPIRY_INTERVAL_S = 300;

/**
 * Deletes expired operator sessions, enrollment token hashes, lapsed leases and sign-in failure
 * rows older than the throttle window. Every reader already refuses an expired row by its time;
 * this keeps the tables from growing without bound and leaves nothing usable behind.
 */
export function deleteExpired(store: Store, now: Date): Promise<ExpiredRows> {
  return store.deleteExpired(
    now.toISOString(),
    new Date(now.getTime() - FAILURE_WINDOW_MS).toISOString(),
  );
}

/** The periodic job, on one instance at a time (the lease `expiry`). */
export function startExpiryJob(
  store: Store,
  deps: { logger: Logger; holder: string; now?: () => Date; intervalS?: number },
) {
  const now = deps.now ?? (() => new Date());
  return startScheduledJob(
    store,
    "expiry",
    deps.intervalS ?? EXPIRY_INTERVAL_S,
    async () => {
      const deleted = await deleteExpired(store, now());
      if (Object.values(deleted).some((n) => n > 0)) {
        deps.logger.log("info", "expired rows deleted", { ...deleted });
      }
    },
    deps,
  );
}
