import { Hono } from "hono";
import { z } from "zod";
import { APPLIANCE_API, Problem } from "#protocol";
import type { AppEnv, Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { SitePolicy } from "../planner/index.ts";
import { Approve, CreateOrder, RegisterSite } from "./admin/schemas.ts";
import { PLANNER_WRITES } from "./planner/index.ts";

/** Liveness, readiness (the store answers), Prometheus metrics and the OpenAPI document. */
export function opsRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  let openapi: unknown;
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    try {
      await s.store.ping();
    } catch (cause) {
      throw new ControlPlaneError("unavailable", "the store does not answer", { cause });
    }
    return c.json({ status: "ready", store: s.store.dialect });
  });
  app.get("/metrics", async (c) =>
    c.body(await s.metrics.render(), 200, { "content-type": s.metrics.contentType }),
  );
  app.get("/openapi.json", (c) => {
    openapi ??= openApiDocument();
    return c.json(openapi);
  });
  return app;
}

const schema = (t: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(t, { io, unrepresentable: "any", target: "openapi-3.0" });

/** OpenAPI 3 generated from the same zod schemas the handlers parse with (zod 4 toJSONSchema). */
export function openApiDocument() {
  const problem = {
    description: "RFC 9457 problem",
    content: { "application/problem+json": { schema: schema(Problem, "output") } },
  };
  const paths: Record<string, unknown> = {};
  for (const [name, route] of Object.entries(APPLIANCE_API)) {
    paths[route.path] = {
      post: {
        operationId: `appliance_${name}`,
        description: route.clientCertificate
          ? "Requires the appliance's mTLS client certificate; the identity comes from it."
          : "Server-authenticated TLS; proven by a one-time token or operator approval.",
        requestBody: {
          required: true,
          content: { "application/json": { schema: schema(route.request, "input") } },
        },
        responses: {
          "200": {
            description: "OK",
            content: { "application/json": { schema: schema(route.response, "output") } },
          },
          "4XX": problem,
        },
      },
    };
  }
  const admin = (operationId: string, body?: z.ZodType) => ({
    post: {
      operationId,
      security: [{ adminToken: [] }],
      ...(body
        ? { requestBody: { content: { "application/json": { schema: schema(body, "input") } } } }
        : {}),
      responses: {
        "200": { description: "OK" },
        "201": { description: "Created" },
        "4XX": problem,
      },
    },
  });
  paths["/v1/admin/sites"] = admin("admin_register_site", RegisterSite);
  paths["/v1/admin/tenants/{tenant}/appliances/{appliance}/approve"] = admin(
    "admin_approve",
    Approve,
  );
  paths["/v1/admin/tenants/{tenant}/appliances/{appliance}/revoke"] = admin("admin_revoke");
  paths["/v1/admin/tenants/{tenant}/appliances/{appliance}/orders"] = admin(
    "admin_create_order",
    CreateOrder,
  );
  for (const [path, operationId, body] of PLANNER_WRITES) {
    paths[`/v1/admin${path}`] = admin(operationId, body);
  }
  paths["/v1/admin/tenants/{tenant}/planner-policy"] = {
    put: admin("planner_set_policy", SitePolicy).post,
  };
  return {
    openapi: "3.0.3",
    info: { title: "MSP Compliance Platform control plane", version: "1" },
    components: { securitySchemes: { adminToken: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
