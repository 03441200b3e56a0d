import type { Services } from "../../env.ts";
import type { Route } from "../registry.ts";
import { enrollRoute } from "./enroll.ts";
import { evidenceRoute } from "./evidence.ts";
import { pollRoute } from "./poll.ts";
import { reportRoutes } from "./reports.ts";

/** The appliance API (protocol/api.ts), one route per entry of APPLIANCE_API. */
export const applianceRoutes = (s: Services): Route[] => [
  enrollRoute(s),
  pollRoute(s),
  evidenceRoute(s),
  ...reportRoutes(s),
];
