import type { z } from "zod";
import { Acknowledgement } from "./schemas/api.ts";
import { EnrollmentRequest, EnrollmentResponse } from "./schemas/enrollment.ts";
import { EvidenceReceipt, EvidenceUpload } from "./schemas/evidence.ts";
import { Incident } from "./schemas/incident.ts";
import { OrderResult, PollRequest, PollResponse } from "./schemas/orders.ts";

/**
 * The appliance-facing HTTP API: one table both sides read, so the agent and the control plane
 * cannot disagree on a path or a body. Every route is POST with a JSON body. `enroll` is served
 * over server-authenticated TLS (the appliance has no certificate yet); every other route
 * requires the appliance's mTLS client certificate, and the control plane takes the tenant and
 * appliance identity from that certificate, refusing a body that names another.
 */
export interface ApplianceRoute<Req extends z.ZodType, Res extends z.ZodType> {
  readonly path: string;
  readonly clientCertificate: boolean;
  readonly request: Req;
  readonly response: Res;
}

const route = <Req extends z.ZodType, Res extends z.ZodType>(
  path: string,
  clientCertificate: boolean,
  request: Req,
  response: Res,
): ApplianceRoute<Req, Res> => ({ path, clientCertificate, request, response });

export const APPLIANCE_API = {
  enroll: route("/v1/appliance/enroll", false, EnrollmentRequest, EnrollmentResponse),
  poll: route("/v1/appliance/poll", true, PollRequest, PollResponse),
  evidence: route("/v1/appliance/evidence", true, EvidenceUpload, EvidenceReceipt),
  orderResult: route("/v1/appliance/order-results", true, OrderResult, Acknowledgement),
  incident: route("/v1/appliance/incidents", true, Incident, Acknowledgement),
} as const;

/** Largest request body the control plane reads from an appliance (a full evidence upload). */
export const MAX_APPLIANCE_BODY_BYTES = 4 * 1024 * 1024;
