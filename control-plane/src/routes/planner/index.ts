import { type Context, Hono } from "hono";
import { z } from "zod";
import {
  ApplianceId,
  OrderParams,
  RunbookId,
  TenantId,
  Uuid,
  verificationKey,
  verifyDecisionChain,
} from "#protocol";
import type { AppEnv, Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { SitePolicy } from "../../planner/index.ts";
import type { IncidentStatus } from "../../store/index.ts";
import { param, readBody } from "../request.ts";

export const ApproveIncident = z.strictObject({
  runbook_id: RunbookId,
  params: OrderParams.optional(),
});
export const Note = z.strictObject({ note: z.string().min(1).max(1000) });
export const OptionalNote = z.strictObject({ note: z.string().min(1).max(1000).optional() });
export const KillSwitch = z.strictObject({
  engaged: z.boolean(),
  reason: z.string().max(300).default(""),
});

/** The planner's state-changing routes under /v1/admin, for the OpenAPI document. */
export const PLANNER_WRITES: readonly [string, string, z.ZodType | undefined][] = [
  [
    "/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/approve",
    "planner_approve",
    ApproveIncident,
  ],
  ["/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/reject", "planner_reject", Note],
  [
    "/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/resolve",
    "planner_resolve",
    Note,
  ],
  ["/planner/kill-switch", "planner_kill_switch", KillSwitch],
  ["/tenants/{tenant}/rule-proposals/{proposal}/approve", "planner_approve_rule", OptionalNote],
  ["/tenants/{tenant}/rule-proposals/{proposal}/reject", "planner_reject_rule", OptionalNote],
  ["/tenants/{tenant}/l1-rules/{rule}/revoke", "planner_revoke_rule", undefined],
];
const STATUSES: readonly IncidentStatus[] = [
  "queued",
  "planning",
  "ordered",
  "escalated",
  "resolved",
  "rejected",
  "resolved_manually",
];

/**
 * The planner's operator API, mounted inside the admin routes, so it is served under
 * /v1/admin (bearer token) and /v1/operator (session + CSRF) alike, and every change is an
 * audit entry under the caller's name: the L3 queue, site guardrail policies, the global kill
 * switch, the flywheel's proposals and rule sets, and each appliance's decision chain.
 */
export function plannerRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  const ids = (c: Context) => ({
    tenantId: param(c, "tenant", TenantId),
    applianceId: param(c, "appliance", ApplianceId),
    incidentId: param(c, "incident", Uuid),
  });

  app.get("/tenants/:tenant/escalations", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    const status = (c.req.query("status") ?? "escalated") as IncidentStatus;
    if (!STATUSES.includes(status))
      throw new ControlPlaneError("invalid_request", "unknown status");
    const rows = await s.store.planner.incidentsIn(status, tenant, 500);
    return c.json(
      rows.map((r) => ({
        tenant_id: r.tenantId,
        appliance_id: r.applianceId,
        incident_id: r.incidentId,
        status: r.status,
        updated_at: r.updatedAt,
        received_at: r.receivedAt,
        note: r.note,
        incident: JSON.parse(r.bodyJson),
      })),
    );
  });

  app.get("/tenants/:tenant/appliances/:appliance/incidents/:incident", async (c) => {
    const i = ids(c);
    const state = await s.store.planner.getIncident(i.tenantId, i.applianceId, i.incidentId);
    if (!state) throw new ControlPlaneError("not_found", "no such incident");
    const decisions = await s.store.planner.decisionsForIncident(i.tenantId, i.incidentId);
    return c.json({
      status: state.status,
      note: state.note,
      incident: JSON.parse(state.bodyJson),
      decisions: decisions.map((d) => JSON.parse(d.recordJson)),
    });
  });

  app.post("/tenants/:tenant/appliances/:appliance/incidents/:incident/approve", async (c) => {
    const body = await readBody(c, ApproveIncident);
    const order = await s.planner.approve(
      c.get("adminActor"),
      ids(c),
      body.runbook_id,
      body.params,
    );
    return c.json(
      {
        order_id: order.orderId,
        seq: order.seq,
        runbook_id: order.runbookId,
        params: order.params,
      },
      201,
    );
  });

  app.post("/tenants/:tenant/appliances/:appliance/incidents/:incident/reject", async (c) => {
    const body = await readBody(c, Note);
    await s.planner.close(c.get("adminActor"), ids(c), "rejected", body.note);
    return c.json({ status: "rejected" });
  });

  app.post("/tenants/:tenant/appliances/:appliance/incidents/:incident/resolve", async (c) => {
    const body = await readBody(c, Note);
    await s.planner.close(c.get("adminActor"), ids(c), "resolved_manually", body.note);
    return c.json({ status: "resolved_manually" });
  });

  app.get("/tenants/:tenant/planner-policy", async (c) => {
    return c.json(await s.planner.policy(param(c, "tenant", TenantId)));
  });

  app.put("/tenants/:tenant/planner-policy", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    if (!(await s.store.getTenant(tenant)))
      throw new ControlPlaneError("not_found", "no such tenant");
    const policy = await readBody(c, SitePolicy);
    await s.planner.setPolicy(c.get("adminActor"), tenant, policy);
    return c.json(policy);
  });

  app.get("/planner/kill-switch", async (c) => c.json(await s.planner.killSwitch()));

  app.post("/planner/kill-switch", async (c) => {
    const body = await readBody(c, KillSwitch);
    await s.planner.setKillSwitch(c.get("adminActor"), body.engaged, body.reason);
    return c.json(await s.planner.killSwitch());
  });

  app.get("/tenants/:tenant/rule-proposals", async (c) => {
    const rows = await s.store.planner.listProposals(param(c, "tenant", TenantId));
    return c.json(
      rows.map((p) => ({
        proposal_id: p.proposalId,
        pattern: p.patternKey,
        check_id: p.checkId,
        finding: p.finding,
        runbook_id: p.runbookId,
        successes: p.successes,
        status: p.status,
        created_at: p.createdAt,
        decided_at: p.decidedAt,
        decided_by: p.decidedBy,
        note: p.note,
      })),
    );
  });

  for (const decision of ["approve", "reject"] as const) {
    app.post(`/tenants/:tenant/rule-proposals/:proposal/${decision}`, async (c) => {
      const body = await readBody(c, OptionalNote);
      const result = await s.planner.decideProposal(
        c.get("adminActor"),
        param(c, "tenant", TenantId),
        param(c, "proposal", Uuid),
        decision === "approve" ? "approved" : "rejected",
        body.note ?? null,
      );
      return c.json({
        status: decision === "approve" ? "approved" : "rejected",
        ...toWire(result),
      });
    });
  }

  app.get("/tenants/:tenant/l1-rules", async (c) => {
    return c.json(await s.planner.rules(param(c, "tenant", TenantId)));
  });

  app.post("/tenants/:tenant/l1-rules/:rule/revoke", async (c) => {
    const version = await s.planner.revokeRule(
      c.get("adminActor"),
      param(c, "tenant", TenantId),
      param(c, "rule", Uuid),
    );
    return c.json({ version });
  });

  app.get("/tenants/:tenant/appliances/:appliance/decisions", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    const appliance = param(c, "appliance", ApplianceId);
    const records = [];
    for (let after = 0; ; ) {
      const page = await s.store.planner.listDecisions(tenant, appliance, after, 1000);
      records.push(...page.map((r) => JSON.parse(r.recordJson)));
      if (page.length < 1000) break;
      after = page.at(-1)?.seq ?? after;
    }
    const verdict = verifyDecisionChain(records, {
      key: verificationKey(s.signer.publicKey),
      tenantId: tenant,
      applianceId: appliance,
    });
    return c.json({ verified: verdict.ok, records });
  });

  return app;
}

function toWire(r: { version?: number; ruleId?: string }) {
  return {
    ...(r.version !== undefined ? { rule_set_version: r.version } : {}),
    ...(r.ruleId !== undefined ? { rule_id: r.ruleId } : {}),
  };
}
