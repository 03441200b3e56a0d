import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import { ApplianceId, RunbookId, TenantId, Uuid } from "#protocol";
import { roleMay, type StaffPermission } from "../access/roles.ts";
import { proposalDecision } from "../changes/index.ts";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { toProblem } from "../http/problem.ts";
import { hashSecret, SESSION_COOKIE } from "../middleware/operator-session/index.ts";
import { signIn } from "../operator/sign-in.ts";
import { Month } from "../packets/index.ts";
import { requestPacket, rerunPacketJob } from "../routes/admin/packets.ts";
import {
  ApplianceParams,
  IncidentParams,
  ProposalParams,
  TenantParams,
} from "../routes/admin/schemas.ts";
import { dashboardAuth, PUBLIC, type Route, TEXT } from "../routes/registry.ts";
import { changeRoutes } from "./changes.ts";
import { type Html, page, STYLESHEET } from "./layout.ts";
import { operatorPages } from "./operators.ts";
import {
  auditPage,
  evidenceIndexPage,
  evidencePage,
  incidentsPage,
  ordersPage,
  packetsPage,
  parseStatus,
  proposalsPage,
  sitesPage,
} from "./pages.ts";
import { back, dashboardRoute, FORM, HTML, show } from "./render.ts";
import { clearCookies, type DashboardEnv, sameOrigin, setCsrfCookie } from "./session.ts";

const SignInForm = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  code: z.string().max(16).optional(),
});
/** What the sign-in form may carry; checked by the handler so a bad one shows the form again. */
const SignInFields = z.object({
  username: z.string().optional(),
  password: z.string().optional(),
  code: z.string().optional(),
});
const Note = z.string().trim().min(1).max(1000);
const OptionalNote = z.string().trim().max(1000);
const Status = z.object({ status: z.string().optional() });

/**
 * The operator dashboard under /dashboard: server-rendered pages (no client script), the same
 * operator accounts, sessions and CSRF tokens as the JSON API, and the same planner functions
 * for every decision, so each action is audited exactly as through /v1/operator. Its own app,
 * so that its errors render as pages.
 */
export function dashboardApp(s: Services) {
  const app = new OpenAPIHono<DashboardEnv>();
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      // Not no-referrer: then Chromium sends `Origin: null` on our own form posts.
      referrerPolicy: "same-origin",
    }),
  );
  app.use("*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
  app.onError((error, c) => {
    const problem = toProblem(error);
    if (problem.status >= 500) {
      s.logger.log("error", "dashboard error", {
        request_id: c.get("requestId"),
        err: error,
      });
    }
    return c.html(
      page(
        { title: problem.title },
        html`<p class="notice bad">${problem.detail ?? problem.title}</p><p><a href="/dashboard">Back to the dashboard</a></p>`,
      ),
      problem.status as 400,
    );
  });
  return app;
}

const signInPage = (c: Context, error?: string, status: 200 | 401 | 429 = 200) =>
  c.html(
    page(
      {
        title: "Sign in",
        ...(error ? { notice: { kind: "bad" as const, text: error } } : {}),
      },
      html`<form method="post" action="/dashboard/login" class="login">
<label for="username">Operator</label><input id="username" name="username" autocomplete="username" required maxlength="64">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label for="code">One-time code (if your account has one)</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16">
<button class="primary">Sign in</button></form>`,
    ),
    status,
  );

/** The dashboard's pages and form posts, declared like every other route. */
export function dashboardRoutes(s: Services): Route[] {
  const closeIncident = (action: "reject" | "resolve", outcome: "rejected" | "resolved_manually") =>
    dashboardRoute({
      method: "post",
      path: `/incidents/{tenant}/{appliance}/{incident}/${action}`,
      operationId: `incident_${action}`,
      summary: `Close an escalated incident as ${outcome.replace("_", " ")}`,
      auth: dashboardAuth("decide"),
      params: IncidentParams,
      body: z.object({ note: Note }),
      ...FORM,
      handler: async (c, { params, body }) => {
        await s.planner.close(c.get("adminActor"), incidentIds(params), outcome, body.note);
        return back(c, "/dashboard/incidents", `Incident ${outcome.replace("_", " ")}.`);
      },
    });
  const decideProposal = (action: "approve" | "reject", decision: "approved" | "rejected") =>
    dashboardRoute({
      method: "post",
      path: `/proposals/{tenant}/{proposal}/${action}`,
      operationId: `proposal_${action}`,
      summary: `Decide a flywheel proposal: ${decision}`,
      auth: dashboardAuth("decide"),
      params: ProposalParams,
      body: z.object({ note: OptionalNote.optional() }),
      ...FORM,
      handler: async (c, { params, body }) => {
        const gated = await proposalDecision(
          s,
          c.get("adminActor"),
          params.tenant,
          params.proposal,
          decision,
          body.note ? body.note : null,
        );
        return gated.applied
          ? back(c, "/dashboard/proposals", `Proposal ${decision}.`)
          : back(
              c,
              "/dashboard/changes",
              "Promotion requested: it applies once another operator approves it.",
            );
      },
    });
  const view = (
    path: string,
    operationId: string,
    title: string,
    permission: StaffPermission,
    render: (c: Context<DashboardEnv>) => Promise<Html>,
  ) =>
    dashboardRoute({
      method: "get",
      path,
      operationId,
      summary: title,
      auth: dashboardAuth(permission),
      response: HTML,
      handler: async (c) =>
        show(c, title, `/dashboard${path === "/" ? "" : path}`, await render(c)),
    });

  return [
    dashboardRoute({
      method: "get",
      path: "/style.css",
      operationId: "stylesheet",
      summary: "The dashboard's stylesheet",
      auth: PUBLIC,
      response: { schema: TEXT, contentType: "text/css" },
      handler: (c) => c.body(STYLESHEET, 200, { "content-type": "text/css; charset=utf-8" }),
    }),
    dashboardRoute({
      method: "get",
      path: "/login",
      operationId: "login_page",
      summary: "The sign-in page",
      auth: PUBLIC,
      response: HTML,
      handler: (c) => signInPage(c),
    }),
    dashboardRoute({
      method: "post",
      path: "/login",
      operationId: "login",
      summary: "Sign in from the form (same origin only)",
      auth: PUBLIC,
      limit: "sign-in",
      body: SignInFields,
      ...FORM,
      handler: async (c, { body }) => {
        if (!sameOrigin(c)) throw new ControlPlaneError("csrf_failed", "cross-site form refused");
        const parsed = SignInForm.safeParse(body);
        if (!parsed.success) return signInPage(c, "Enter an operator name and password.", 401);
        let home = "/dashboard";
        try {
          const { username, password, code } = parsed.data;
          const { csrf, role } = await signIn(s, c, username, password, code || undefined);
          setCsrfCookie(c, csrf, s.signIn.session.maxMs);
          // An auditor reads packets only: its start page is theirs.
          if (!roleMay(role, "read")) home = "/dashboard/packets";
        } catch (error) {
          if (error instanceof ControlPlaneError && error.code === "unauthenticated")
            return signInPage(
              c,
              "Wrong operator name or password, or a missing or wrong one-time code.",
              401,
            );
          if (error instanceof ControlPlaneError && error.code === "locked_out")
            return signInPage(
              c,
              "Too many failed sign-ins from this address: try again later.",
              429,
            );
          throw error;
        }
        return c.redirect(home, 303);
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/logout",
      operationId: "logout",
      summary: "Sign out",
      auth: dashboardAuth("signed-in"),
      ...FORM,
      handler: async (c) => {
        const id = getCookie(c, SESSION_COOKIE);
        if (id) await s.store.deleteSession(hashSecret(id));
        clearCookies(c);
        await s.audit.record(c.get("adminActor"), "operator.logout", c.get("adminActor"));
        return c.redirect("/dashboard/login", 303);
      },
    }),
    view("/", "sites", "Sites and appliances", "read", (c) => sitesPage(s, c.get("principal"))),
    dashboardRoute({
      method: "get",
      path: "/incidents",
      operationId: "incidents",
      summary: "Incidents by status",
      auth: dashboardAuth("read"),
      query: Status,
      response: HTML,
      handler: async (c, { query }) => {
        const status = parseStatus(query.status);
        return show(
          c,
          `Incidents: ${status}`,
          "/dashboard/incidents",
          await incidentsPage(s, status, c.get("csrf"), c.get("principal")),
        );
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/incidents/{tenant}/{appliance}/{incident}/approve",
      operationId: "incident_approve",
      summary: "Approve an escalated incident with a runbook",
      auth: dashboardAuth("decide"),
      params: IncidentParams,
      body: z.object({
        runbook_id: RunbookId,
        override_reason: z.string().trim().min(3).max(1000).optional(),
      }),
      ...FORM,
      handler: async (c, { params, body }) => {
        const order = await s.planner.approve(
          c.get("adminActor"),
          incidentIds(params),
          body.runbook_id,
          undefined,
          body.override_reason,
        );
        return back(
          c,
          "/dashboard/incidents",
          `Approved: order ${order.seq} (${order.runbookId}) issued.`,
        );
      },
    }),
    closeIncident("reject", "rejected"),
    closeIncident("resolve", "resolved_manually"),
    dashboardRoute({
      method: "get",
      path: "/orders",
      operationId: "orders",
      summary: "Orders, optionally of one tenant or appliance",
      auth: dashboardAuth("read"),
      query: z.object({ tenant: z.string().optional(), appliance: z.string().optional() }),
      response: HTML,
      handler: async (c, { query }) => {
        const tenant = TenantId.safeParse(query.tenant);
        const appliance = ApplianceId.safeParse(query.appliance);
        return show(
          c,
          "Orders",
          "/dashboard/orders",
          await ordersPage(
            s,
            c.get("principal"),
            tenant.success ? tenant.data : undefined,
            appliance.success ? appliance.data : undefined,
          ),
        );
      },
    }),
    view("/evidence", "evidence_index", "Evidence", "read", (c) =>
      evidenceIndexPage(s, c.get("principal")),
    ),
    dashboardRoute({
      method: "get",
      path: "/evidence/{tenant}/{appliance}",
      operationId: "evidence",
      summary: "An appliance's evidence chain",
      auth: dashboardAuth("read"),
      params: ApplianceParams,
      response: HTML,
      handler: async (c, { params }) => {
        const a = await s.store.getAppliance(params.tenant, params.appliance);
        if (!a) throw new ControlPlaneError("not_found", "no such appliance");
        return show(
          c,
          `Evidence of ${a.applianceId}`,
          "/dashboard/evidence",
          await evidencePage(s, a),
        );
      },
    }),
    view("/proposals", "proposals", "Flywheel proposals", "read", (c) =>
      proposalsPage(s, c.get("csrf"), c.get("principal")),
    ),
    decideProposal("approve", "approved"),
    decideProposal("reject", "rejected"),
    ...changeRoutes(s),
    view("/packets", "packets", "Compliance packets", "evidence", (c) =>
      packetsPage(s, c.get("csrf"), c.get("principal")),
    ),
    dashboardRoute({
      method: "post",
      path: "/packets/{tenant}",
      operationId: "packet_generate",
      summary: "Queue a tenant's packet for a month (the next version, with a reason)",
      auth: dashboardAuth("evidence"),
      params: TenantParams,
      body: z.object({ month: Month, reason: z.string().optional() }),
      ...FORM,
      handler: async (c, { params, body: { month, reason } }) => {
        await requestPacket(
          s,
          c.get("adminActor"),
          params.tenant,
          month,
          reason?.trim() || undefined,
        );
        return back(c, "/dashboard/packets", `Packet for ${month} queued.`);
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/packets/{tenant}/jobs/{job}/rerun",
      operationId: "packet_job_rerun",
      summary: "Run a failed packet job again",
      auth: dashboardAuth("evidence"),
      params: TenantParams.extend({ job: Uuid }),
      ...FORM,
      handler: async (c, { params }) => {
        await rerunPacketJob(s, c.get("adminActor"), params.tenant, params.job);
        return back(c, "/dashboard/packets", "Packet job queued again.");
      },
    }),
    view("/audit", "audit", "Operator audit log", "admin", () => auditPage(s)),
    ...operatorPages(s),
  ];
}

const incidentIds = (p: z.output<typeof IncidentParams>) => ({
  tenantId: p.tenant,
  applianceId: p.appliance,
  incidentId: p.incident,
});
