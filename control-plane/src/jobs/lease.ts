import { randomUUID } from "node:crypto";
import { ControlPlaneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { previousMonth } from "../packets/index.ts";
import type { Store } from "../store/index.ts";

export interface ExclusiveOptions {
  /** Who holds the lease (one per process: host, pid and a random suffix). */
  readonly holder: string;
  /** Lease length; renewed every third of it while the job runs. */
  readonly ttlMs?: number;
  /**
   * Mark the lease completed when the job succeeds, so no instance ever runs it again under
   * this name (name the period: `packets:2026-11`). A failed or interrupted run is retried.
   */
  readonly once?: boolean;
  readonly now?: () => Date;
}

export type ExclusiveResult<T> =
  | { readonly ran: true; readonly value: T }
  | { readonly ran: false; readonly reason: "held" | "completed" };

/** A process-wide holder id: leases taken by one process are its own across ticks. */
export function holderId(): string {
  return `${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * Runs `job` only if this process takes the Store lease `name` (compare-and-swap on the
 * `leases` table: on SQLite and PostgreSQL alike, at most one instance holds an unexpired
 * lease). The lease is renewed while the job runs; `signal` aborts if a renewal finds it lost
 * (a stalled process whose lease expired): the job should stop at its next step. Each step of
 * a job should still be idempotent, since a lost lease can overlap a new holder briefly.
 */
export async function runExclusive<T>(
  store: Store,
  name: string,
  job: (signal: AbortSignal) => Promise<T>,
  options: ExclusiveOptions,
): Promise<ExclusiveResult<T>> {
  const now = options.now ?? (() => new Date());
  const ttlMs = options.ttlMs ?? 60_000;
  const take = () => {
    const at = now();
    return store.acquireLease(
      name,
      options.holder,
      at.toISOString(),
      new Date(at.getTime() + ttlMs).toISOString(),
    );
  };
  const first = await take();
  if (first !== "acquired") return { ran: false, reason: first };
  const lost = new AbortController();
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = setInterval(
    () => {
      renewing = take().then(
        (outcome) => {
          if (outcome !== "acquired") {
            lost.abort(new ControlPlaneError("lease_lost", `lease ${name} lost (${outcome})`));
          }
        },
        () => {}, // a failed renewal is retried at the next interval; expiry is the bound
      );
    },
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  renew.unref();
  let ok = false;
  try {
    const value = await job(lost.signal);
    ok = true;
    return { ran: true, value };
  } finally {
    clearInterval(renew);
    await renewing;
    await store
      .releaseLease(name, options.holder, now().toISOString(), ok && options.once === true)
      .catch(() => {}); // it expires on its own
  }
}

/**
 * Runs `job` every `intervalS` seconds (and once at start), never overlapping itself, and
 * across instances only where the lease `name` is taken. The embedded default (one process)
 * always takes it, so its behaviour is the same as a plain timer.
 */
export function startScheduledJob(
  store: Store,
  name: string,
  intervalS: number,
  job: (signal: AbortSignal) => Promise<unknown>,
  deps: { logger: Logger; holder: string; ttlMs?: number },
) {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = runExclusive(store, name, job, {
      holder: deps.holder,
      ttlMs: deps.ttlMs ?? Math.max(30_000, intervalS * 2000),
    })
      .then((r) => {
        if (!r.ran)
          deps.logger.log("debug", "scheduled job skipped", { job: name, reason: r.reason });
      })
      .catch((error: unknown) =>
        deps.logger.log("warn", `${name} job failed`, {
          err: error,
        }),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalS * 1000);
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * A monthly job (the compliance packets): checked every `checkEveryS` seconds on every instance
 * with the role; runs for the previous month once it has ended, exactly once across instances
 * (the lease `<name>:<YYYY-MM>` is marked completed on success). A failed or interrupted run is
 * retried at the next check; a month missed while every instance was down runs at the next start.
 */
export function startMonthlyJob(
  store: Store,
  name: string,
  job: (month: string, signal: AbortSignal) => Promise<unknown>,
  deps: {
    logger: Logger;
    holder: string;
    checkEveryS?: number;
    now?: () => Date;
    /** Only on this day of the month (UTC), as the packet job does; any day when absent. */
    onDay?: number;
  },
) {
  const now = deps.now ?? (() => new Date());
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running || (deps.onDay !== undefined && now().getUTCDate() !== deps.onDay)) return;
    const month = previousMonth(now());
    running = runExclusive(store, `${name}:${month}`, (signal) => job(month, signal), {
      holder: deps.holder,
      once: true,
      now,
    })
      .then((r) => {
        if (r.ran) deps.logger.log("info", `${name} job done`, { month });
      })
      .catch((error: unknown) =>
        deps.logger.log("warn", `${name} job failed`, {
          month,
          err: error,
        }),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, (deps.checkEveryS ?? 3600) * 1000);
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
