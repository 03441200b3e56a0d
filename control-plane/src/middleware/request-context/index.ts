import { randomUUID } from "node:crypto";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env.ts";
import type { Logger } from "../../logger.ts";
import type { Metrics } from "../../metrics.ts";

const INCOMING_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * Gives every request an id (a well-formed incoming `x-request-id` is kept, so a caller can
 * correlate), echoes it, and writes one JSON access-log line and the request metrics. Logs hold
 * method, route pattern, status, duration and identity: never headers, bodies or tokens.
 */
export function requestContext(logger: Logger, metrics: Metrics) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    const started = performance.now();
    await next();
    c.header("x-request-id", requestId);
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath || "unmatched";
    metrics.observeRequest(route, c.req.method, c.res.status, seconds);
    const appliance = c.get("appliance");
    logger.log(c.res.status >= 500 ? "error" : "info", "request", {
      request_id: requestId,
      method: c.req.method,
      route,
      status: c.res.status,
      duration_ms: Math.round(seconds * 1e4) / 10,
      ...(appliance ? { tenant_id: appliance.tenantId, appliance_id: appliance.applianceId } : {}),
    });
  });
}
