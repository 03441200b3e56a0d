import { z } from "zod";
import { OrderParams, RunbookId, Uuid, verificationKey, verifyDecisionChain } from "#protocol";
import { killSwitchChange, policyChange, proposalDecision } from "../../changes/index.ts";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { SitePolicy } from "../../planner/index.ts";
import type { IncidentStatus } from "../../store/index.ts";
import { gatedAnswer } from "../admin/change-requests.ts";
import {
  Decisions,
  Escalations,
  IncidentClosed,
  IncidentDetail,
  IncidentOrdered,
  IncidentStatus as IncidentStatusSchema,
  KillSwitchState,
  ProposalDecided,
  Proposals,
  QualificationState,
  RuleRevoked,
  RuleSet,
} from "../admin/responses.ts";
import { ApplianceParams, IncidentParams, ProposalParams, TenantParams } from "../admin/schemas.ts";
import { tenantRead } from "../admin/views.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";

export const ApproveIncident = z.strictObject({
  runbook_id: RunbookId,
  params: OrderParams.optional(),
  /** Required when runbook_id is not a candidate for the incident; signed into the decision. */
  override_reason: z
    .string()
    .trim()
    .min(3)
    .max(1000)
    .refine((t) => t.isWellFormed(), "no lone surrogates")
    .optional(),
});
export const Note = z.strictObject({ note: z.string().min(1).max(1000) });
export const OptionalNote = z.strictObject({ note: z.string().min(1).max(1000).optional() });
export const KillSwitch = z.strictObject({
  engaged: z.boolean(),
  // Signed into every poll response while engaged: no lone surrogate.
  reason: z
    .string()
    .max(300)
    .refine((r) => r.isWellFormed(), "holds a lone surrogate; send well-formed text")
    .default(""),
});

const STATUSES: readonly IncidentStatus[] = IncidentStatusSchema.options;
const RuleParams = TenantParams.extend({ rule: Uuid });
const ids = (p: z.output<typeof IncidentParams>) => ({
  tenantId: p.tenant,
  applianceId: p.appliance,
  incidentId: p.incident,
});

/**
 * The planner's operator API, served under /v1/admin (bearer token) and /v1/operator (session +
 * CSRF) alike; every change is an audit entry under the caller's name: the L3 queue, site
 * guardrail policies, the global kill switch, the flywheel's proposals and rule sets, and each
 * appliance's decision chain.
 */
export function plannerRoutes(s: Services): Route[] {
  const closeIncident = (action: "reject" | "resolve", status: "rejected" | "resolved_manually") =>
    defineRoute({
      method: "post",
      path: `/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/${action}`,
      operationId: `planner_${action}`,
      summary: `Close an escalated incident as ${status.replace("_", " ")}, with a note`,
      auth: operatorApi("decide"),
      params: IncidentParams,
      body: Note,
      response: { schema: IncidentClosed },
      handler: async (c, { params, body }) => {
        await s.planner.close(c.get("adminActor"), ids(params), status, body.note);
        return c.json({ status });
      },
    });
  const decideProposal = (action: "approve" | "reject", decision: "approved" | "rejected") =>
    defineRoute({
      method: "post",
      path: `/tenants/{tenant}/rule-proposals/{proposal}/${action}`,
      operationId: `planner_${action}_rule`,
      summary:
        decision === "approved"
          ? "Approve a flywheel proposal into the next L1 rule set (202: waits for a second operator)"
          : "Reject a flywheel proposal",
      auth: operatorApi("decide"),
      params: ProposalParams,
      body: OptionalNote,
      response: { schema: ProposalDecided },
      handler: async (c, { params, body }) => {
        const gated = await proposalDecision(
          s,
          c.get("adminActor"),
          params.tenant,
          params.proposal,
          decision,
          body.note ?? null,
        );
        return gatedAnswer(c, s, gated, (result) =>
          c.json({ status: decision, ...toWire(result) }),
        );
      },
    });

  return [
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/escalations",
      operationId: "planner_escalations",
      summary: "A tenant's incidents in one pipeline status (escalated by default)",
      auth: operatorApi("read"),
      params: TenantParams,
      query: z.object({ status: z.string().optional() }),
      response: { schema: Escalations },
      handler: async (c, { params, query }) => {
        const status = (query.status ?? "escalated") as IncidentStatus;
        if (!STATUSES.includes(status))
          throw new ControlPlaneError("invalid_request", "unknown status");
        const rows = await s.store.planner.incidentsIn(status, params.tenant, 500);
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
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/appliances/{appliance}/incidents/{incident}",
      operationId: "planner_incident",
      summary: "One incident with its planner decisions",
      auth: operatorApi("read"),
      params: IncidentParams,
      response: { schema: IncidentDetail },
      handler: async (c, { params }) => {
        const i = ids(params);
        const state = await s.store.planner.getIncident(i.tenantId, i.applianceId, i.incidentId);
        if (!state) throw new ControlPlaneError("not_found", "no such incident");
        const decisions = await s.store.planner.decisionsForIncident(i.tenantId, i.incidentId);
        return c.json({
          status: state.status,
          note: state.note,
          incident: JSON.parse(state.bodyJson),
          decisions: decisions.map((d) => JSON.parse(d.recordJson)),
        });
      },
    }),
    defineRoute({
      method: "post",
      path: "/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/approve",
      operationId: "planner_approve",
      summary: "Approve an escalated incident with a runbook: issues a signed order",
      auth: operatorApi("decide"),
      params: IncidentParams,
      body: ApproveIncident,
      response: { status: 201, schema: IncidentOrdered },
      handler: async (c, { params, body }) => {
        const order = await s.planner.approve(
          c.get("adminActor"),
          ids(params),
          body.runbook_id,
          body.params,
          body.override_reason,
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
      },
    }),
    closeIncident("reject", "rejected"),
    closeIncident("resolve", "resolved_manually"),
    tenantRead(
      "/planner-policy",
      "planner_policy",
      "A tenant's planner guardrail policy",
      SitePolicy,
      (t) => s.planner.policy(t),
    ),
    defineRoute({
      method: "put",
      path: "/tenants/{tenant}/planner-policy",
      operationId: "planner_set_policy",
      summary:
        "Set a tenant's planner guardrail policy (202 when it leaves audit-only: waits for a second operator)",
      auth: operatorApi("decide"),
      params: TenantParams,
      body: SitePolicy,
      response: { schema: SitePolicy },
      handler: async (c, { params, body: policy }) => {
        if (!(await s.store.getTenant(params.tenant)))
          throw new ControlPlaneError("not_found", "no such tenant");
        const gated = await policyChange(s, c.get("adminActor"), params.tenant, policy);
        return gatedAnswer(c, s, gated, () => c.json(policy));
      },
    }),
    defineRoute({
      method: "get",
      path: "/planner/kill-switch",
      operationId: "planner_kill_switch_state",
      summary: "The global L2 kill switch",
      auth: operatorApi("read"),
      response: { schema: KillSwitchState },
      handler: async (c) => c.json(await s.planner.killSwitch()),
    }),
    defineRoute({
      method: "post",
      path: "/planner/kill-switch",
      operationId: "planner_kill_switch",
      summary:
        "Engage or lift the global L2 kill switch (202 on lifting: waits for a second operator)",
      auth: operatorApi("admin"),
      body: KillSwitch,
      response: { schema: KillSwitchState },
      handler: async (c, { body }) => {
        const gated = await killSwitchChange(s, c.get("adminActor"), body.engaged, body.reason);
        return gatedAnswer(c, s, gated, async () => c.json(await s.planner.killSwitch()));
      },
    }),
    defineRoute({
      method: "get",
      path: "/planner/qualification",
      operationId: "planner_qualification",
      summary:
        "Whether L2 may order with the configured model, and its signed qualification report",
      auth: operatorApi("read"),
      response: { schema: QualificationState },
      handler: async (c) => {
        const q = await s.planner.qualification();
        if (!q) {
          return c.json({
            configured: false,
            l2_open: false,
            reason: "no L2 planner (LLM) is configured",
          });
        }
        return c.json({
          configured: true,
          base_url: q.baseUrl,
          model: q.model,
          l2_open: q.open,
          ...(q.reason ? { reason: q.reason } : {}),
          ...(q.report ? { report: q.report } : {}),
        });
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/rule-proposals",
      operationId: "planner_rule_proposals",
      summary: "The flywheel's proposed L1 rules for a tenant",
      auth: operatorApi("read"),
      params: TenantParams,
      response: { schema: Proposals },
      handler: async (c, { params }) => {
        const rows = await s.store.planner.listProposals(params.tenant);
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
      },
    }),
    decideProposal("approve", "approved"),
    decideProposal("reject", "rejected"),
    tenantRead("/l1-rules", "planner_l1_rules", "A tenant's promoted L1 rules", RuleSet, (t) =>
      s.planner.rules(t),
    ),
    defineRoute({
      method: "post",
      path: "/tenants/{tenant}/l1-rules/{rule}/revoke",
      operationId: "planner_revoke_rule",
      summary: "Revoke a promoted L1 rule (a new signed rule set)",
      auth: operatorApi("decide"),
      params: RuleParams,
      response: { schema: RuleRevoked },
      handler: async (c, { params }) => {
        const version = await s.planner.revokeRule(c.get("adminActor"), params.tenant, params.rule);
        return c.json({ version });
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/appliances/{appliance}/decisions",
      operationId: "planner_decisions",
      summary: "An appliance's planner decision chain, verified",
      auth: operatorApi("read"),
      params: ApplianceParams,
      response: { schema: Decisions },
      handler: async (c, { params }) => {
        const records = [];
        for (let after = 0; ; ) {
          const page = await s.store.planner.listDecisions(
            params.tenant,
            params.appliance,
            after,
            1000,
          );
          records.push(...page.map((r) => JSON.parse(r.recordJson)));
          if (page.length < 1000) break;
          after = page.at(-1)?.seq ?? after;
        }
        const verdict = verifyDecisionChain(records, {
          key: verificationKey(s.signer.publicKey),
          tenantId: params.tenant,
          applianceId: params.appliance,
        });
        return c.json({ verified: verdict.ok, records });
      },
    }),
  ];
}

function toWire(r: { version?: number; ruleId?: string }) {
  return {
    ...(r.version !== undefined ? { rule_set_version: r.version } : {}),
    ...(r.ruleId !== undefined ? { rule_id: r.ruleId } : {}),
  };
}
