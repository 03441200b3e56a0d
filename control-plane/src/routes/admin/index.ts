import type { Services } from "../../env.ts";
import { plannerRoutes } from "../planner/index.ts";
import type { Route } from "../registry.ts";
import { changeRequestRoutes } from "./change-requests.ts";
import { exportRoutes } from "./exports.ts";
import { operatorManagementRoutes } from "./operators.ts";
import { packetRoutes } from "./packets.ts";
import { queueRoutes } from "./queue.ts";
import { siteLifecycleRoutes } from "./site-lifecycle.ts";
import { siteRoutes } from "./sites.ts";

/**
 * The operator API: one list, served under /v1/admin (admin token) and again under
 * /v1/operator (operator session + CSRF) for every route whose rule admits a session.
 */
export const operatorApiRoutes = (s: Services): Route[] => [
  ...siteRoutes(s),
  ...siteLifecycleRoutes(s),
  ...plannerRoutes(s),
  ...changeRequestRoutes(s),
  ...exportRoutes(s),
  ...packetRoutes(s),
  ...queueRoutes(s),
  ...operatorManagementRoutes(s),
];
