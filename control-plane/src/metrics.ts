/**
 * A small Prometheus registry: request counts by route and status, a latency histogram, and
 * named counters for domain events (bundles ingested, polls answered). Text format 0.0.4.
 */
const BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface Metrics {
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  inc(name: string, help: string, by?: number): void;
  render(): string;
}

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const histograms = new Map<string, { buckets: number[]; sum: number; count: number }>();
  const counters = new Map<string, { help: string; value: number }>();
  return {
    observeRequest(route, method, status, seconds) {
      const key = `route="${route}",method="${method}",status="${status}"`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
      const hkey = `route="${route}"`;
      const h = histograms.get(hkey) ?? { buckets: BUCKETS_S.map(() => 0), sum: 0, count: 0 };
      BUCKETS_S.forEach((b, i) => {
        if (seconds <= b) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
      });
      h.sum += seconds;
      h.count++;
      histograms.set(hkey, h);
    },
    inc(name, help, by = 1) {
      const c = counters.get(name) ?? { help, value: 0 };
      c.value += by;
      counters.set(name, c);
    },
    render() {
      const lines = [
        "# HELP cp_http_requests_total HTTP requests by route, method and status.",
        "# TYPE cp_http_requests_total counter",
        ...[...requests].map(([k, v]) => `cp_http_requests_total{${k}} ${v}`),
        "# HELP cp_http_request_duration_seconds HTTP request latency.",
        "# TYPE cp_http_request_duration_seconds histogram",
      ];
      for (const [k, h] of histograms) {
        BUCKETS_S.forEach((b, i) => {
          lines.push(`cp_http_request_duration_seconds_bucket{${k},le="${b}"} ${h.buckets[i]}`);
        });
        lines.push(`cp_http_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
        lines.push(`cp_http_request_duration_seconds_sum{${k}} ${h.sum}`);
        lines.push(`cp_http_request_duration_seconds_count{${k}} ${h.count}`);
      }
      for (const [name, c] of counters) {
        lines.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`, `${name} ${c.value}`);
      }
      return `${lines.join("\n")}\n`;
    },
  };
}
