/**
 * A circuit breaker for the model server: after `threshold` failed calls in a row it opens and
 * calls are refused without reaching the server; after `cooldownMs` one call is let through as a
 * probe (half-open). The probe's success closes the circuit; its failure opens it again.
 */
export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitBreaker {
  /** "call": go ahead (closed, or this call is the probe); "refuse": the circuit is open. */
  admit(): "call" | "refuse";
  success(): void;
  failure(): void;
  state(): CircuitState;
  readonly consecutiveFailures: number;
}

export function circuitBreaker(options: {
  threshold: number;
  cooldownMs: number;
  now?: () => number;
}): CircuitBreaker {
  const now = options.now ?? (() => performance.now());
  let failures = 0;
  let openedAt: number | undefined;
  let probing = false;
  return {
    admit() {
      if (openedAt === undefined) return "call";
      if (probing || now() - openedAt < options.cooldownMs) return "refuse";
      probing = true;
      return "call";
    },
    success() {
      failures = 0;
      openedAt = undefined;
      probing = false;
    },
    failure() {
      failures++;
      if (probing || failures >= options.threshold) {
        openedAt = now();
        probing = false;
      }
    },
    state() {
      if (openedAt === undefined) return "closed";
      return probing || now() - openedAt >= options.cooldownMs ? "half_open" : "open";
    },
    get consecutiveFailures() {
      return failures;
    },
  };
}
