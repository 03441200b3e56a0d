import { html } from "hono/html";
import { z } from "zod";
import { Uuid } from "#protocol";
import type { Principal } from "../access/roles.ts";
import { roleMay } from "../access/roles.ts";
import { approveRequest, listRequests, rejectRequest } from "../changes/index.ts";
import type { Services } from "../env.ts";
import { dashboardAuth, type Route } from "../routes/registry.ts";
import { badge, csrfField, type Html, when } from "./layout.ts";
import { back, dashboardRoute, FORM, HTML, show } from "./render.ts";

const WHAT = {
  promote_rule: "Promote a flywheel proposal to an L1 rule",
  enforce_healing: "Take a site out of audit-only (enforce)",
  lift_kill_switch: "Lift the global kill switch",
} as const;

/**
 * Changes waiting for a second operator: who asked, what, when, why and until when, with
 * approve and reject forms for those who may decide them. The requester sees their own request
 * without an approve button (the server refuses it anyway).
 */
export async function changesPage(s: Services, csrf: string, who: Principal): Promise<Html> {
  const now = s.now();
  const rows = await listRequests(s, who, "pending");
  if (rows.length === 0)
    return html`<p class="muted">No change is waiting for a second operator.</p>`;
  const mayDecide = roleMay(who.role, "decide");
  return html`<table><thead><tr><th>Requested</th><th>By</th><th>Change</th><th>Target</th><th>Reason</th><th>Expires</th><th></th></tr></thead><tbody>${rows.map(
    (r) => {
      const base = `/dashboard/changes/${r.requestId}`;
      const own = r.requestedBy === who.actor;
      return html`<tr data-change="${r.requestId}"><td>${when(r.requestedAt, now)}</td><td>${r.requestedBy}</td><td>${WHAT[r.action]}</td>
<td class="mono">${r.target}</td><td>${r.reason}</td><td>${when(r.expiresAt, now)}</td><td>${
        !mayDecide
          ? badge("pending", "warn")
          : html`${
              own
                ? html`<span class="muted">your request: another operator approves it</span>`
                : html`<form method="post" action="${base}/approve" class="inline">${csrfField(csrf)}<button class="primary">Approve</button></form>`
            }
<form method="post" action="${base}/reject" class="inline">${csrfField(csrf)}<input name="note" maxlength="1000" placeholder="note (optional)" aria-label="note"><button>Reject</button></form>`
      }</td></tr>`;
    },
  )}</tbody></table>`;
}

const RequestParams = z.object({ request: Uuid });

export function changeRoutes(s: Services): Route[] {
  return [
    dashboardRoute({
      method: "get",
      path: "/changes",
      operationId: "changes",
      summary: "Changes waiting for a second operator",
      auth: dashboardAuth("read"),
      response: HTML,
      handler: async (c) =>
        show(
          c,
          "Changes waiting for approval",
          "/dashboard/changes",
          await changesPage(s, c.get("csrf"), c.get("principal")),
        ),
    }),
    dashboardRoute({
      method: "post",
      path: "/changes/{request}/approve",
      operationId: "change_approve",
      summary: "Approve another operator's change: it applies now",
      auth: dashboardAuth("decide"),
      params: RequestParams,
      body: z.object({}),
      ...FORM,
      handler: async (c, { params }) => {
        await approveRequest(s, c.get("principal"), params.request);
        return back(c, "/dashboard/changes", "Change approved and applied.");
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/changes/{request}/reject",
      operationId: "change_reject",
      summary: "Reject a change request: it never applies",
      auth: dashboardAuth("decide"),
      params: RequestParams,
      body: z.object({ note: z.string().trim().max(1000).optional() }),
      ...FORM,
      handler: async (c, { params, body }) => {
        await rejectRequest(s, c.get("principal"), params.request, body.note ? body.note : null);
        return back(c, "/dashboard/changes", "Change rejected.");
      },
    }),
  ];
}
