import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { APPLIANCE_API, MAX_APPLIANCE_BODY_BYTES } from "#protocol";
import { createAuditLog } from "./audit.ts";
import { dashboardRoutes } from "./dashboard/index.ts";
import type { AppDeps, AppEnv, Services } from "./env.ts";
import { ControlPlaneError } from "./errors.ts";
import { problemResponse, toProblem } from "./http/problem.ts";
import { createMetrics } from "./metrics.ts";
import { adminAuth } from "./middleware/admin-auth/index.ts";
import { applianceIdentity } from "./middleware/appliance-identity/index.ts";
import { byAppliance, byClientAddress, rateLimit } from "./middleware/rate-limit/index.ts";
import { requestContext } from "./middleware/request-context/index.ts";
import { createPlanner } from "./planner/index.ts";
import { adminRoutes } from "./routes/admin/index.ts";
import { queueRoutes } from "./routes/admin/queue.ts";
import { siteLifecycleRoutes } from "./routes/admin/site-lifecycle.ts";
import { enrollRoutes } from "./routes/appliance/enroll.ts";
import { evidenceRoutes } from "./routes/appliance/evidence.ts";
import { pollRoutes } from "./routes/appliance/poll.ts";
import { reportRoutes } from "./routes/appliance/reports.ts";
import { operatorRoutes } from "./routes/operator.ts";
import { opsRoutes } from "./routes/ops.ts";

const ADMIN_BODY_BYTES = 256 * 1024;

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
  const app = new Hono<AppEnv>();
  const tooLarge = () => {
    throw new ControlPlaneError("payload_too_large", "");
  };

  app.use("*", requestContext(deps.logger, metrics));

  // Appliance API: the body limit first, then (except enrollment) mTLS identity and rate limit.
  app.use("/v1/appliance/*", bodyLimit({ maxSize: MAX_APPLIANCE_BODY_BYTES, onError: tooLarge }));
  const identity = applianceIdentity(deps.store, now, deps.peerCertificate);
  const limit = rateLimit(deps.applianceRateLimit ?? { perMinute: 120, burst: 60 }, byAppliance);
  app.use(
    "/v1/appliance/enroll",
    rateLimit(deps.enrollmentRateLimit ?? { perMinute: 60, burst: 30 }, byClientAddress),
  );
  // Derived from the contract table, so a route added there is certificate-bound by default.
  for (const route of Object.values(APPLIANCE_API)) {
    if (route.clientCertificate) app.use(route.path, identity, limit);
  }
  app.route("/", enrollRoutes(services));
  app.route("/", pollRoutes(services));
  app.route("/", evidenceRoutes(services));
  app.route("/", reportRoutes(services));

  app.use(
    "/v1/admin/*",
    bodyLimit({ maxSize: ADMIN_BODY_BYTES, onError: tooLarge }),
    adminAuth(deps.store),
  );
  app.route("/v1/admin", adminRoutes(services));
  app.route("/v1/admin", siteLifecycleRoutes(services));
  app.route("/v1/admin", queueRoutes(services));

  app.use("/v1/operator/*", bodyLimit({ maxSize: ADMIN_BODY_BYTES, onError: tooLarge }));
  // Per-account lockout stops guessing one password; this stops spraying many accounts.
  app.use("/v1/operator/login", rateLimit({ perMinute: 30, burst: 10 }, byClientAddress));
  app.route("/v1/operator", operatorRoutes(services));

  // The operator dashboard (server-rendered pages on the same sessions).
  app.use("/dashboard/*", bodyLimit({ maxSize: ADMIN_BODY_BYTES, onError: tooLarge }));
  app.use("/dashboard/login", rateLimit({ perMinute: 30, burst: 10 }, byClientAddress));
  app.route("/dashboard", dashboardRoutes(services));

  app.route("/", opsRoutes(services));

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
