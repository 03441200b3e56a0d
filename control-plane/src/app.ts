import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { MAX_APPLIANCE_BODY_BYTES } from "#protocol";
import type { Principal } from "./access/roles.ts";
import { createAuditLog } from "./audit.ts";
import { DEFAULT_TWO_PERSON_RULE } from "./changes/settings.ts";
import { dashboardApp, dashboardRoutes } from "./dashboard/index.ts";
import { dashboardSession } from "./dashboard/session.ts";
import type { AppDeps, AppEnv, Services } from "./env.ts";
import { ControlPlaneError } from "./errors.ts";
import { MAX_OPERATOR_BODY_BYTES } from "./http/body.ts";
import { problemResponse, toProblem } from "./http/problem.ts";
import { createMetrics } from "./metrics.ts";
import { adminAuth } from "./middleware/admin-auth/index.ts";
import { applianceIdentity } from "./middleware/appliance-identity/index.ts";
import { metricsAuth } from "./middleware/metrics-auth/index.ts";
import { operatorSession } from "./middleware/operator-session/index.ts";
import { byAppliance, byClientAddress, rateLimit } from "./middleware/rate-limit/index.ts";
import { requestContext } from "./middleware/request-context/index.ts";
import { securityHeaders } from "./middleware/security-headers/index.ts";
import { DEFAULT_SIGN_IN } from "./operator/settings.ts";
import { createPlanner } from "./planner/index.ts";
import { operatorApiRoutes } from "./routes/admin/index.ts";
import { applianceRoutes } from "./routes/appliance/index.ts";
import { operatorRoutes } from "./routes/operator.ts";
import { opsRoutes } from "./routes/ops.ts";
import {
  type Guards,
  type Limits,
  type MountOptions,
  mount,
  SECURITY_SCHEMES,
  type Surface,
} from "./routes/registry.ts";

/** Where each set of routes is served, the credentials accepted there and the body limit. */
export const SURFACES = {
  appliance: {
    name: "appliance",
    base: "",
    serves: ["appliance-mtls", "public"],
    maxBodyBytes: MAX_APPLIANCE_BODY_BYTES,
  },
  admin: {
    name: "admin",
    base: "/v1/admin",
    serves: ["admin-token"],
    maxBodyBytes: MAX_OPERATOR_BODY_BYTES,
  },
  operator: {
    name: "operator",
    base: "/v1/operator",
    serves: ["operator-session", "public"],
    maxBodyBytes: MAX_OPERATOR_BODY_BYTES,
  },
  // Mounted on the dashboard's own app under /dashboard (its errors render as pages).
  dashboard: {
    name: "dashboard",
    base: "",
    serves: ["dashboard-session", "public"],
    maxBodyBytes: MAX_OPERATOR_BODY_BYTES,
    errorPages: true,
  },
  // Health is public; the metrics take the scrape token (or an admin token), the API document
  // an admin token.
  ops: {
    name: "ops",
    base: "",
    serves: ["public", "metrics-token", "admin-token"],
    maxBodyBytes: 0,
  },
} as const satisfies Record<string, Surface>;

/**
 * The control-plane HTTP application. Pure wiring: every concrete object comes in `deps`
 * (main.ts builds them), so tests run it in-process with `app.request()` or behind real TLS.
 */
export function createApp(deps: AppDeps) {
  const now = deps.clock ?? (() => new Date());
  const metrics = createMetrics();
  const audit = createAuditLog(deps.store, now);
  const services: Services = {
    store: deps.store,
    signer: deps.signer,
    secretBox: deps.secretBox,
    logger: deps.logger,
    now,
    clientCertDays: deps.clientCertDays ?? 825,
    audit,
    metrics,
    signIn: deps.signIn ?? DEFAULT_SIGN_IN,
    twoPersonRule: deps.twoPersonRule ?? DEFAULT_TWO_PERSON_RULE,
    planner: createPlanner(
      { store: deps.store, signer: deps.signer, audit, logger: deps.logger, now, metrics },
      deps.planner,
    ),
    ...(deps.vault ? { vault: deps.vault } : {}),
    ...(deps.queue ? { queue: deps.queue } : {}),
    ...(deps.exportsDir ? { exportsDir: deps.exportsDir } : {}),
    ...(deps.archiveKind ? { archiveKind: deps.archiveKind } : {}),
    ...(deps.packets ? { packets: deps.packets } : {}),
  };
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", requestContext(deps.logger, metrics));
  app.use("*", securityHeaders());

  // One guard per credential; each route's declared rule picks the one its surface enforces.
  const guards: Guards = {
    public: [],
    "appliance-mtls": [
      applianceIdentity(deps.store, now, deps.peerCertificate),
      rateLimit(deps.applianceRateLimit ?? { perMinute: 120, burst: 60 }, byAppliance),
    ],
    "admin-token": [adminAuth(deps.store, now)],
    "metrics-token": [metricsAuth(deps.metricsScrapeTokenSha256, adminAuth(deps.store, now))],
    "operator-session": [operatorSession(deps.store, now, services.signIn.session)],
    "dashboard-session": [dashboardSession(services)],
  };
  // Per client address, a bucket set per route: enrollment may cost a CSR signature; the sign-in
  // budget stops spraying many accounts (per-account lockout stops guessing one password).
  const limits: Limits = {
    enrollment: () =>
      rateLimit(deps.enrollmentRateLimit ?? { perMinute: 60, burst: 30 }, byClientAddress),
    "sign-in": () =>
      rateLimit(deps.signInRateLimit ?? { perMinute: 30, burst: 10 }, byClientAddress),
  };
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
  let openapi: unknown;
  const document = () => {
    openapi ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "MSP Compliance Platform control plane", version: "1" },
    });
    return openapi;
  };

  // Every refusal by role, reach or window is an audit event with the real actor.
  const checked: MountOptions = {
    checkResponses: deps.checkResponses === true,
    onDenied: async (c, operation, denial) => {
      const who = c.get("principal") as Principal;
      await audit.record(who.actor, "access.denied", operation, {
        reason: denial.reason,
        path: c.req.path,
      });
    },
  };
  mount(app, SURFACES.appliance, applianceRoutes(services), guards, limits, checked);
  const operatorApi = operatorApiRoutes(services);
  mount(app, SURFACES.admin, operatorApi, guards, limits, checked);
  const operator = [...operatorRoutes(services), ...operatorApi];
  mount(app, SURFACES.operator, operator, guards, limits, checked);
  const dashboard = dashboardApp(services);
  mount(dashboard, SURFACES.dashboard, dashboardRoutes(services), guards, limits, checked);
  app.route("/dashboard", dashboard);
  mount(app, SURFACES.ops, opsRoutes(services, document), guards, limits, checked);

  app.notFound((c) =>
    problemResponse(c, toProblem(new ControlPlaneError("not_found", ""), c.req.path)),
  );
  app.onError((error, c) => {
    const mapped =
      error instanceof HTTPException && error.status < 500
        ? new ControlPlaneError("invalid_request", "", { cause: error })
        : error;
    const problem = toProblem(mapped);
    // The message, code and stack go to the log only; the client gets the generic problem.
    if (problem.status >= 500) {
      deps.logger.log("error", "unhandled error", {
        request_id: c.get("requestId"),
        code: error instanceof ControlPlaneError ? error.code : undefined,
        err: error,
      });
    }
    const retry = error instanceof ControlPlaneError ? error.extra.retry_after_s : undefined;
    return problemResponse(c, problem, retry === undefined ? {} : { "retry-after": String(retry) });
  });
  return Object.assign(app, { planner: services.planner });
}

export type App = ReturnType<typeof createApp>;
