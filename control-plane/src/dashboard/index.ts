import { type Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import { ApplianceId, RunbookId, TenantId, Uuid } from "#protocol";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { toProblem } from "../http/problem.ts";
import { hashSecret, SESSION_COOKIE } from "../middleware/operator-session/index.ts";
import { signIn } from "../operator/sign-in.ts";
import { Month } from "../packets/index.ts";
import { requestPacket } from "../routes/admin/packets.ts";
import { param } from "../routes/request.ts";
import { type Html, page, STYLESHEET } from "./layout.ts";
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
import {
  clearCookies,
  type DashboardEnv,
  dashboardSession,
  readForm,
  sameOrigin,
  setCsrfCookie,
  setFlash,
  takeFlash,
} from "./session.ts";

const SignInForm = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});
const Note = z.string().trim().min(1).max(1000);
const OptionalNote = z.string().trim().max(1000);

/**
 * The operator dashboard under /dashboard: server-rendered pages (no client script), the same
 * operator accounts, sessions and CSRF tokens as the JSON API, and the same planner functions
 * for every decision, so each action is audited exactly as through /v1/operator.
 */
export function dashboardRoutes(s: Services) {
  const app = new Hono<DashboardEnv>();
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

  app.get("/style.css", (c) =>
    c.body(STYLESHEET, 200, { "content-type": "text/css; charset=utf-8" }),
  );

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
<button class="primary">Sign in</button></form>`,
      ),
      status,
    );

  app.get("/login", (c) => signInPage(c));
  app.post("/login", async (c) => {
    if (!sameOrigin(c)) throw new ControlPlaneError("csrf_failed", "cross-site form refused");
    const parsed = SignInForm.safeParse(await readForm(c));
    if (!parsed.success) return signInPage(c, "Enter an operator name and password.", 401);
    try {
      const { csrf } = await signIn(s, c, parsed.data.username, parsed.data.password);
      setCsrfCookie(c, csrf);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === "unauthenticated")
        return signInPage(c, "Wrong operator name or password.", 401);
      if (error instanceof ControlPlaneError && error.code === "locked_out")
        return signInPage(c, "Too many failed sign-ins: try again later.", 429);
      throw error;
    }
    return c.redirect("/dashboard", 303);
  });

  app.use("*", dashboardSession(s));
  const show = (c: Context<DashboardEnv>, title: string, path: string, body: Html) => {
    const done = takeFlash(c);
    return c.html(
      page(
        {
          title,
          path,
          actor: c.get("adminActor"),
          csrf: c.get("csrf"),
          ...(done ? { notice: { kind: "ok" as const, text: done } } : {}),
        },
        body,
      ),
    );
  };
  // The outcome travels in a short-lived cookie, not the URL, so no link can put words in it.
  const back = (c: Context, path: string, done: string) => {
    setFlash(c, done);
    return c.redirect(path, 303);
  };

  app.post("/logout", async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) await s.store.deleteSession(hashSecret(id));
    clearCookies(c);
    await s.audit.record(c.get("adminActor"), "operator.logout", c.get("adminActor"));
    return c.redirect("/dashboard/login", 303);
  });

  app.get("/", async (c) => show(c, "Sites and appliances", "/dashboard", await sitesPage(s)));

  app.get("/incidents", async (c) => {
    const status = parseStatus(c.req.query("status"));
    return show(
      c,
      `Incidents: ${status}`,
      "/dashboard/incidents",
      await incidentsPage(s, status, c.get("csrf")),
    );
  });

  const incidentIds = (c: Context) => ({
    tenantId: param(c, "tenant", TenantId),
    applianceId: param(c, "appliance", ApplianceId),
    incidentId: param(c, "incident", Uuid),
  });
  const field = <T>(c: Context<DashboardEnv>, name: string, schema: z.ZodType<T>): T => {
    const parsed = schema.safeParse(c.get("form")[name]);
    if (!parsed.success)
      throw new ControlPlaneError(
        "invalid_request",
        `the ${name} field: ${parsed.error.issues[0]?.message}`,
      );
    return parsed.data;
  };

  app.post("/incidents/:tenant/:appliance/:incident/approve", async (c) => {
    const order = await s.planner.approve(
      c.get("adminActor"),
      incidentIds(c),
      field(c, "runbook_id", RunbookId),
      undefined,
    );
    return back(
      c,
      "/dashboard/incidents",
      `Approved: order ${order.seq} (${order.runbookId}) issued.`,
    );
  });
  for (const [action, outcome] of [
    ["reject", "rejected"],
    ["resolve", "resolved_manually"],
  ] as const) {
    app.post(`/incidents/:tenant/:appliance/:incident/${action}`, async (c) => {
      await s.planner.close(c.get("adminActor"), incidentIds(c), outcome, field(c, "note", Note));
      return back(c, "/dashboard/incidents", `Incident ${outcome.replace("_", " ")}.`);
    });
  }

  app.get("/orders", async (c) => {
    const tenant = TenantId.safeParse(c.req.query("tenant"));
    const appliance = ApplianceId.safeParse(c.req.query("appliance"));
    return show(
      c,
      "Orders",
      "/dashboard/orders",
      await ordersPage(
        s,
        tenant.success ? tenant.data : undefined,
        appliance.success ? appliance.data : undefined,
      ),
    );
  });

  app.get("/evidence", async (c) =>
    show(c, "Evidence", "/dashboard/evidence", await evidenceIndexPage(s)),
  );
  app.get("/evidence/:tenant/:appliance", async (c) => {
    const a = await s.store.getAppliance(
      param(c, "tenant", TenantId),
      param(c, "appliance", ApplianceId),
    );
    if (!a) throw new ControlPlaneError("not_found", "no such appliance");
    return show(c, `Evidence of ${a.applianceId}`, "/dashboard/evidence", await evidencePage(s, a));
  });

  app.get("/proposals", async (c) =>
    show(c, "Flywheel proposals", "/dashboard/proposals", await proposalsPage(s, c.get("csrf"))),
  );
  for (const [action, decision] of [
    ["approve", "approved"],
    ["reject", "rejected"],
  ] as const) {
    app.post(`/proposals/:tenant/:proposal/${action}`, async (c) => {
      const note = field(c, "note", OptionalNote.optional());
      await s.planner.decideProposal(
        c.get("adminActor"),
        param(c, "tenant", TenantId),
        param(c, "proposal", Uuid),
        decision,
        note ? note : null,
      );
      return back(c, "/dashboard/proposals", `Proposal ${decision}.`);
    });
  }

  app.get("/packets", async (c) =>
    show(c, "Compliance packets", "/dashboard/packets", await packetsPage(s, c.get("csrf"))),
  );
  app.post("/packets/:tenant", async (c) => {
    const month = field(c, "month", Month);
    await requestPacket(s, c.get("adminActor"), param(c, "tenant", TenantId), month);
    return back(c, "/dashboard/packets", `Packet for ${month} generated.`);
  });

  app.get("/audit", async (c) =>
    show(c, "Operator audit log", "/dashboard/audit", await auditPage(s)),
  );
  return app;
}
