/**
 * Capped exponential backoff with jitter: attempt 0 waits about `baseMs`, each failure doubles
 * it up to `capMs`, and a uniform ±`jitter` spreads many appliances of one MSP apart.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  jitter = 0.1,
  random: () => number = Math.random,
): number {
  const plain = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(plain * (1 + jitter * (2 * random() - 1)));
}

/** The poll period: `intervalMs` with uniform ±`jitter` (0.1 means ±10 %). */
export function jitteredInterval(
  intervalMs: number,
  jitter: number,
  random: () => number = Math.random,
): number {
  return Math.round(intervalMs * (1 + jitter * (2 * random() - 1)));
}
