import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Order } from "#protocol";
import {
  addOperator,
  DASHBOARD_ORIGIN,
  dashboardPost,
  dashboardSignIn,
} from "../testing/harness.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";

/**
 * The dashboard in-process on the real planner world (SQLite, real catalog, no LLM so every
 * incident goes to L3): sign-in, the cookies' attributes, CSRF and same-origin refusals,
 * escaping of appliance-supplied text, and decisions that reach the planner and the audit log.
 */
let world: PlannerWorld;
let site: SimulatedSite;
const issued: Order[] = [];
const password = "correct horse battery staple";
const ORIGIN = DASHBOARD_ORIGIN;

beforeAll(async () => {
  world = await startPlannerWorld({ llm: false });
  site = await world.site("clinic-d", "clinic-d-01");
  await addOperator(world.h.store, "dora", password);
});
afterAll(() => world.cleanup());

const req = (path: string, init: RequestInit = {}) => world.h.app.request(`${ORIGIN}${path}`, init);
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  dashboardPost(world.h, path, fields, headers);

async function signIn(): Promise<{ cookie: string; csrf: string; setCookies: string[] }> {
  const session = await dashboardSignIn(world.h, "dora", password);
  expect(session.status).toBe(303);
  expect(session.location).toBe("/dashboard");
  return session;
}

describe("operator dashboard", () => {
  it("sends a visitor without a session to the sign-in page and refuses wrong passwords", async () => {
    const res = await req("/dashboard/incidents");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/dashboard/login");
    const page = await req("/dashboard/login");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain('name="password"');
    const wrong = await post("/dashboard/login", { username: "dora", password: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.getSetCookie()).toEqual([]);
    expect(await wrong.text()).toContain("Wrong operator name or password");
    const cross = await post(
      "/dashboard/login",
      { username: "dora", password },
      {
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
    );
    expect(cross.status).toBe(403);
  });

  it("sets Secure, HttpOnly, SameSite=Strict cookies and shows the sites", async () => {
    const { cookie, setCookies } = await signIn();
    expect(setCookies).toHaveLength(2);
    for (const c of setCookies) {
      expect(c).toMatch(/^__Host-/);
      expect(c).toContain("Secure");
      expect(c).toContain("HttpOnly");
      expect(c).toContain("SameSite=Strict");
    }
    const res = await req("/dashboard", { headers: { cookie } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("Site clinic-d");
    expect(text).toContain("clinic-d-01");
    expect(text).toContain("operator:dora");
  });

  it("escapes appliance-supplied text, and approves and rejects only with the CSRF token", async () => {
    const evil = await site.incident({
      findings: [
        {
          code: "unit_failed",
          subject: "<script>alert(1)</script>.service",
          expected: "active",
          observed: "failed",
        },
      ],
    });
    const plain = await site.incident();
    const { cookie, csrf } = await signIn();
    const page = await (await req("/dashboard/incidents", { headers: { cookie } })).text();
    expect(page).not.toContain("<script>alert(1)</script>");
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain(evil.incident_id);
    const runbook = /<option>([^<]+)<\/option>/.exec(page)?.[1];
    expect(runbook).toBeDefined();

    const base = `/dashboard/incidents/clinic-d/clinic-d-01/${plain.incident_id}`;
    expect(
      (await post(`${base}/approve`, { runbook_id: runbook as string }, { cookie })).status,
    ).toBe(403);
    expect(
      (
        await post(
          `${base}/approve`,
          { runbook_id: runbook as string, csrf: "x".repeat(43) },
          { cookie },
        )
      ).status,
    ).toBe(403);
    const crossSite = await post(
      `${base}/approve`,
      { runbook_id: runbook as string, csrf },
      {
        cookie,
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
    );
    expect(crossSite.status).toBe(403);

    // A runbook that is not a candidate needs the override form and its reason.
    expect(page).toContain('name="override_reason" required');
    const notCandidate = await post(
      `${base}/approve`,
      { runbook_id: "RB-LOGGING-001-journald", csrf },
      { cookie },
    );
    expect(notCandidate.status).toBe(400);
    const approved = await post(
      `${base}/approve`,
      { runbook_id: runbook as string, csrf },
      { cookie },
    );
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toBe("/dashboard/incidents");
    const flash = approved.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const after = await (
      await req("/dashboard/incidents", { headers: { cookie: `${cookie}; ${flash}` } })
    ).text();
    expect(after).toContain(`(${runbook}) issued`);
    // The message comes only from that cookie: a crafted link shows nothing.
    const crafted = await req("/dashboard/incidents?done=Call+us", { headers: { cookie } });
    expect(await crafted.text()).not.toContain("Call us");
    const again = await post(
      `${base}/approve`,
      { runbook_id: runbook as string, csrf },
      { cookie },
    );
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("not escalated");

    const rejectPath = `/dashboard/incidents/clinic-d/clinic-d-01/${evil.incident_id}/reject`;
    expect((await post(rejectPath, { note: "  ", csrf }, { cookie })).status).toBe(400);
    expect((await post(rejectPath, { note: "not ours to fix", csrf }, { cookie })).status).toBe(
      303,
    );

    const fixed = await site.incident();
    const resolvePath = `/dashboard/incidents/clinic-d/clinic-d-01/${fixed.incident_id}/resolve`;
    expect(
      (await post(resolvePath, { note: "restarted it by hand", csrf }, { cookie })).status,
    ).toBe(303);

    const store = world.h.store.planner;
    expect((await store.getIncident("clinic-d", "clinic-d-01", fixed.incident_id))?.status).toBe(
      "resolved_manually",
    );
    expect((await store.getIncident("clinic-d", "clinic-d-01", plain.incident_id))?.status).toBe(
      "ordered",
    );
    expect((await store.getIncident("clinic-d", "clinic-d-01", evil.incident_id))?.status).toBe(
      "rejected",
    );
    const { orders } = await site.poll();
    expect(orders.map((o) => o.runbook_id)).toContain(runbook);
    issued.push(...orders);

    const orderPage = await (await req("/dashboard/orders", { headers: { cookie } })).text();
    expect(orderPage).toContain(runbook);
    const audit = await (await req("/dashboard/audit", { headers: { cookie } })).text();
    expect(audit).toContain("hash chain verified");
    expect(audit).toContain("incident.order_issued");
    expect(audit).toContain("incident.rejected");
    expect(audit).toContain("incident.resolved_manually");
    expect(audit).toContain("operator:dora");
  });

  it("verifies the stored evidence chain on the evidence page", async () => {
    const [order] = issued;
    if (!order) throw new Error("the approval issued no order");
    const seq = await site.report(order, "succeeded");
    const { cookie } = await signIn();
    const text = await (
      await req("/dashboard/evidence/clinic-d/clinic-d-01", { headers: { cookie } })
    ).text();
    expect(text).toContain(`verified: ${seq} bundles`);
    expect(text).not.toContain("NOT verified");
  });

  it("does not accept a JSON-API session without the dashboard token, and signs out", async () => {
    const api = await req("/v1/operator/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "dora", password }),
    });
    const apiCookie = (api.headers.getSetCookie()[0] ?? "").split(";")[0] as string;
    const res = await req("/dashboard", { headers: { cookie: apiCookie } });
    expect(res.status).toBe(302);

    const { cookie, csrf } = await signIn();
    expect((await post("/dashboard/logout", { csrf }, { cookie })).status).toBe(303);
    expect((await req("/dashboard", { headers: { cookie } })).status).toBe(302);
  });
});
