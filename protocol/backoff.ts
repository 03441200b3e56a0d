/**
 * Capped exponential backoff with jitter, the one formula every retry loop of the agent and the
 * control plane uses: retry `attempt` (0 for the first) waits `baseMs · 2^attempt`, at most
 * `capMs`, spread by a uniform ±`jitter` (0.1 means ±10 %) so that many clients retrying the
 * same failure do not return in step. Pure: the randomness is passed in.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  jitter = 0,
  random: () => number = Math.random,
): number {
  const plain = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return jitter === 0 ? plain : jitteredInterval(plain, jitter, random);
}

/** A period `intervalMs` with uniform ±`jitter` (0.1 means ±10 %), in whole milliseconds. */
export function jitteredInterval(
  intervalMs: number,
  jitter: number,
  random: () => number = Math.random,
): number {
  return Math.round(intervalMs * (1 + jitter * (2 * random() - 1)));
}
