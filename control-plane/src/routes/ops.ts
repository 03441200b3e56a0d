import { z } from "zod";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { releaseVersion } from "../release-version.ts";
import { defineRoute, METRICS, PUBLIC, type Route, TEXT, tokenOnly } from "./registry.ts";

/**
 * Liveness and readiness (public: a load balancer probes them), Prometheus metrics (sign-in
 * outcomes, enrollments, incidents: the scrape token) and the OpenAPI document (admin token).
 */
export function opsRoutes(s: Services, openapi: () => unknown): Route[] {
  const version = releaseVersion();
  return [
    defineRoute({
      method: "get",
      path: "/healthz",
      operationId: "healthz",
      summary: "Liveness",
      auth: PUBLIC,
      response: { schema: z.object({ status: z.literal("ok") }) },
      handler: (c) => c.json({ status: "ok" }),
    }),
    defineRoute({
      method: "get",
      path: "/readyz",
      operationId: "readyz",
      summary: "Readiness: the store answers; the release version running",
      auth: PUBLIC,
      response: {
        schema: z.object({
          status: z.literal("ready"),
          store: z.enum(["sqlite", "postgres"]),
          version: z.string(),
        }),
      },
      handler: async (c) => {
        try {
          await s.store.ping();
        } catch (cause) {
          throw new ControlPlaneError("unavailable", "the store does not answer", { cause });
        }
        return c.json({ status: "ready", store: s.store.dialect, version });
      },
    }),
    defineRoute({
      method: "get",
      path: "/metrics",
      operationId: "metrics",
      summary: "Prometheus metrics (the scrape token or an admin token)",
      auth: METRICS,
      response: { schema: TEXT, contentType: "text/plain" },
      handler: async (c) =>
        c.body(await s.metrics.render(), 200, { "content-type": s.metrics.contentType }),
    }),
    defineRoute({
      method: "get",
      path: "/openapi.json",
      operationId: "openapi",
      summary: "This document: every route, its schemas and its authorization",
      auth: tokenOnly("signed-in"),
      response: {
        schema: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
      },
      handler: (c) => c.json(openapi()),
    }),
  ];
}
