import type { Context } from "hono";
import { z } from "zod";
import { Uuid } from "#protocol";
import { approveRequest, type Gated, listRequests, rejectRequest } from "../../changes/index.ts";
import type { AppEnv, Services } from "../../env.ts";
import type { ChangeRequestRecord } from "../../store/index.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";
import { ChangeRequest, ChangeRequests, type PendingApproval } from "./responses.ts";

const RequestParams = z.object({ request: Uuid });
const Decision = z.strictObject({ note: z.string().trim().min(1).max(1000).optional() });

export const changeRequestWire = (
  r: ChangeRequestRecord,
  now: string,
): z.infer<typeof ChangeRequest> => ({
  request_id: r.requestId,
  action: r.action,
  tenant_id: r.tenantId,
  target: r.target,
  change: JSON.parse(r.payloadJson),
  reason: r.reason,
  requested_by: r.requestedBy,
  requested_at: r.requestedAt,
  expires_at: r.expiresAt,
  status: r.status,
  expired: r.status === "pending" && r.expiresAt <= now,
  decided_by: r.decidedBy,
  decided_at: r.decidedAt,
  note: r.note,
});

/**
 * A gated change's answer: the route's own when it applied, else 202 with the request that now
 * waits for a second operator (nothing changed yet).
 */
export function gatedAnswer<T>(
  c: Context<AppEnv>,
  s: Services,
  gated: Gated<T>,
  applied: (result: T) => Response | Promise<Response>,
): Response | Promise<Response> {
  if (gated.applied) return applied(gated.result);
  const pending: z.infer<typeof PendingApproval> = {
    status: "pending_approval",
    change_request: changeRequestWire(gated.request, s.now().toISOString()),
  };
  return c.json(pending, 202);
}

/**
 * Changes waiting for a second operator: list them, approve (the change applies with the
 * approval; never by its requester) or reject. Reach and role are checked per request: a site's
 * request outside the caller's scope is a 404, one whose change the role may not make a 403.
 */
export function changeRequestRoutes(s: Services): Route[] {
  const decide = (action: "approve" | "reject") =>
    defineRoute({
      method: "post",
      path: `/change-requests/{request}/${action}`,
      operationId: `change_request_${action}`,
      summary:
        action === "approve"
          ? "Approve another operator's change request: the change applies with the approval"
          : "Reject a change request: it never applies",
      auth: operatorApi("decide"),
      params: RequestParams,
      body: Decision,
      response: { schema: ChangeRequest },
      handler: async (c, { params, body }) => {
        const who = c.get("principal");
        const r =
          action === "approve"
            ? await approveRequest(s, who, params.request)
            : await rejectRequest(s, who, params.request, body.note ?? null);
        return c.json(changeRequestWire(r, s.now().toISOString()));
      },
    });
  return [
    defineRoute({
      method: "get",
      path: "/change-requests",
      operationId: "change_requests",
      summary: "Change requests waiting for a second operator (status=all: every request)",
      auth: operatorApi("read"),
      query: z.object({ status: z.enum(["pending", "all"]).default("pending") }),
      response: { schema: ChangeRequests },
      handler: async (c, { query }) => {
        const now = s.now().toISOString();
        const rows = await listRequests(s, c.get("principal"), query.status);
        return c.json(rows.map((r) => changeRequestWire(r, now)));
      },
    }),
    decide("approve"),
    decide("reject"),
  ];
}
