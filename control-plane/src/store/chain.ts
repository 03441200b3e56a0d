import { setTimeout as sleep } from "node:timers/promises";
import type { Kysely, Transaction } from "kysely";
import { backoffDelay } from "#protocol";
import { isUniqueViolation } from "./rows.ts";
import type { Database } from "./schema.ts";

/** How often a lost race is retried, and the backoff between tries (about 5, 10, 20 ms ... ±50 %). */
export const CHAIN_RETRIES = 10;
export const CHAIN_BACKOFF = { baseMs: 5, capMs: 250, jitter: 0.5 } as const;

export interface ChainRetryOptions {
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Runs `append` (a transaction that reads a hash chain's head and inserts the next link) until
 * it commits. Two writers may read the same head; the chain's unique key (its sequence number)
 * lets only one insert, and the loser's whole transaction is rolled back and run again on the new
 * head after a short, jittered backoff. So the chain never forks and nothing of the loser is
 * kept. Any other error is not a race and is thrown at once.
 */
export async function appendToChain<T>(
  db: Kysely<Database>,
  append: (tx: Transaction<Database>) => Promise<T>,
  { random = Math.random, sleep: wait = sleep }: ChainRetryOptions = {},
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await db.transaction().execute(append);
    } catch (error) {
      if (retry >= CHAIN_RETRIES || !isUniqueViolation(error)) throw error;
      const { baseMs, capMs, jitter } = CHAIN_BACKOFF;
      await wait(backoffDelay(retry, baseMs, capMs, jitter, random));
    }
  }
}
