import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * Prometheus metrics through prom-client: request counts by route, method and status, a latency
 * histogram by route, named counters for domain events (bundles ingested, polls answered, planner
 * decisions), and prom-client's process, GC and event-loop metrics. Text format 0.0.4.
 */
const BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface Metrics {
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  inc(name: string, help: string, by?: number): void;
  /** A counter with one label set per call (a closed set of values, never free text). */
  incLabeled(name: string, help: string, labels: Readonly<Record<string, string>>): void;
  render(): Promise<string>;
  readonly contentType: string;
}

let processRegistry: Registry | undefined;

/**
 * Process, GC and event-loop metrics describe the process, not one app: one collector per
 * process (tests build many apps in one process, and each collector adds observers).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): Metrics {
  const perProcess = processMetrics();
  const registry = new Registry();
  const requests = new Counter({
    name: "cp_http_requests_total",
    help: "HTTP requests by route, method and status.",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "cp_http_request_duration_seconds",
    help: "HTTP request latency.",
    labelNames: ["route"],
    buckets: BUCKETS_S,
    registers: [registry],
  });
  const counters = new Map<string, Counter>();
  const labeled = new Map<string, Counter>();
  return {
    contentType: registry.contentType,
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      duration.observe({ route }, seconds);
    },
    inc(name, help, by = 1) {
      let counter = counters.get(name);
      if (!counter) {
        counter = new Counter({ name, help, registers: [registry] });
        counters.set(name, counter);
      }
      counter.inc(by);
    },
    incLabeled(name, help, labels) {
      let counter = labeled.get(name);
      if (!counter) {
        counter = new Counter({
          name,
          help,
          labelNames: Object.keys(labels).sort(),
          registers: [registry],
        });
        labeled.set(name, counter);
      }
      counter.inc(labels);
    },
    async render() {
      return `${await perProcess.metrics()}\n${await registry.metrics()}`;
    },
  };
}
