import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { L1RuleEntry } from "#protocol";
import { inScope, type Principal, roleMay, type StaffPermission } from "../access/roles.ts";
import type { Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { promotedRule, withRule } from "../planner/flywheel.ts";
import { SitePolicy } from "../planner/index.ts";
import type { ChangeAction, ChangeRequestRecord, PlannerStore } from "../store/index.ts";

export { DEFAULT_TWO_PERSON_RULE, NO_TWO_PERSON_RULE, type TwoPersonSettings } from "./settings.ts";

/**
 * The two-person rule: a change that widens what automation may do (promoting a flywheel
 * proposal to an L1 rule, taking a site out of audit-only, lifting the kill switch) is, when the
 * rule is on for it, stored as a pending request instead of applied. Another operator whose role
 * may make the change approves it, and only then does it apply, in the transaction that marks
 * the request approved (store.approveChangeRequest). The requester never approves their own; a
 * rejected or expired request never applies. Every step is an audit entry under its actor.
 */

/** The permission the change itself needs: an approver must hold it as the requester did. */
const PERMISSION: Readonly<Record<ChangeAction, StaffPermission>> = {
  promote_rule: "decide",
  enforce_healing: "decide",
  lift_kill_switch: "admin",
};

const KillSwitchLift = z.strictObject({ reason: z.string() });
const Promotion = z.strictObject({ proposal_id: z.string(), note: z.string().nullable() });
const Enforcement = z.strictObject({ policy: SitePolicy });

/** A change that applied at once, or the request now waiting for a second operator. */
export type Gated<T> =
  | { readonly applied: true; readonly result: T }
  | { readonly applied: false; readonly request: ChangeRequestRecord };

async function request(
  s: Services,
  actor: string,
  action: ChangeAction,
  tenantId: string | null,
  target: string,
  payload: unknown,
  reason: string,
): Promise<ChangeRequestRecord> {
  const at = s.now();
  // One waiting request per change: a second would only be a second thing to approve.
  const waiting = (await s.store.listChangeRequests("pending", 500)).find(
    (r) => r.action === action && r.target === target && r.expiresAt > at.toISOString(),
  );
  if (waiting)
    throw new ControlPlaneError(
      "conflict",
      `this change already waits for a second operator (request ${waiting.requestId})`,
    );
  const record: ChangeRequestRecord = {
    requestId: randomUUID(),
    action,
    tenantId,
    target,
    payloadJson: JSON.stringify(payload),
    reason,
    requestedBy: actor,
    requestedAt: at.toISOString(),
    expiresAt: new Date(at.getTime() + s.twoPersonRule.expiryMs).toISOString(),
    status: "pending",
    decidedBy: null,
    decidedAt: null,
    note: null,
  };
  await s.store.createChangeRequest(record);
  await s.audit.record(actor, "change.requested", target, {
    request_id: record.requestId,
    action,
    reason,
    expires_at: record.expiresAt,
  });
  return record;
}

/** Lifting the kill switch while it is engaged needs a second operator. */
export async function killSwitchChange(
  s: Services,
  actor: string,
  engaged: boolean,
  reason: string,
): Promise<Gated<void>> {
  const stored = await s.store.planner.getKillSwitch();
  if (!engaged && stored?.engaged && s.twoPersonRule.actions.lift_kill_switch) {
    const payload: z.infer<typeof KillSwitchLift> = { reason };
    return {
      applied: false,
      request: await request(s, actor, "lift_kill_switch", null, "planner", payload, reason),
    };
  }
  await s.planner.setKillSwitch(actor, engaged, reason);
  return { applied: true, result: undefined };
}

/** A policy that takes a site out of audit-only (enforce) needs a second operator. */
export async function policyChange(
  s: Services,
  actor: string,
  tenantId: string,
  policy: SitePolicy,
): Promise<Gated<void>> {
  const before = await s.planner.policy(tenantId);
  if (before.audit_only && !policy.audit_only && s.twoPersonRule.actions.enforce_healing) {
    const payload: z.infer<typeof Enforcement> = { policy };
    return {
      applied: false,
      request: await request(
        s,
        actor,
        "enforce_healing",
        tenantId,
        tenantId,
        payload,
        "the site leaves audit-only: automatic healing orders again",
      ),
    };
  }
  await s.planner.setPolicy(actor, tenantId, policy);
  return { applied: true, result: undefined };
}

/** Approving a flywheel proposal (its promotion to an L1 rule) needs a second operator. */
export async function proposalDecision(
  s: Services,
  actor: string,
  tenantId: string,
  proposalId: string,
  decision: "approved" | "rejected",
  note: string | null,
): Promise<Gated<{ version?: number; ruleId?: string }>> {
  if (decision === "approved" && s.twoPersonRule.actions.promote_rule) {
    const proposal = await s.store.planner.getProposal(tenantId, proposalId);
    if (!proposal) throw new ControlPlaneError("not_found", "no such proposal");
    if (proposal.status !== "proposed")
      throw new ControlPlaneError("conflict", "the proposal was already decided");
    const payload: z.infer<typeof Promotion> = { proposal_id: proposalId, note };
    return {
      applied: false,
      request: await request(
        s,
        actor,
        "promote_rule",
        tenantId,
        `${tenantId}/proposal/${proposalId}`,
        payload,
        note ?? `promote ${proposal.patternKey} → ${proposal.runbookId}`,
      ),
    };
  }
  return {
    applied: true,
    result: await s.planner.decideProposal(actor, tenantId, proposalId, decision, note),
  };
}

/** A request the principal may see: a site's within its scope, the global ones to everyone. */
const visible = (who: Principal, r: ChangeRequestRecord) =>
  r.tenantId === null || inScope(who.scope, r.tenantId);

/** The requests the principal sees, newest first; `pending` leaves out the expired ones. */
export async function listRequests(
  s: Services,
  who: Principal,
  status: "pending" | "all",
): Promise<ChangeRequestRecord[]> {
  const now = s.now().toISOString();
  const rows = await s.store.listChangeRequests(status === "pending" ? "pending" : null, 500);
  return rows.filter((r) => visible(who, r) && (status === "all" || r.expiresAt > now));
}

/** The request, if the principal may decide it: 404 outside its reach, 403 without the role. */
async function decidable(s: Services, who: Principal, requestId: string) {
  const r = await s.store.getChangeRequest(requestId);
  if (!r || !visible(who, r)) throw new ControlPlaneError("not_found", "no such change request");
  if (!roleMay(who.role, PERMISSION[r.action]))
    throw new ControlPlaneError("forbidden", "your role may not make this change");
  return r;
}

const REFUSED = {
  own_request: ["forbidden", "you requested this change: another operator must approve it"],
  expired: ["conflict", "the change request expired; request the change again"],
  not_pending: ["conflict", "the change request was already decided"],
} as const;

/**
 * A second operator approves: the change applies with the approval (one transaction), then
 * both actors are in the audit log (the request's entry names the requester; these name the
 * approver and the requester).
 */
export async function approveRequest(
  s: Services,
  who: Principal,
  requestId: string,
): Promise<ChangeRequestRecord> {
  const r = await decidable(s, who, requestId);
  const at = s.now().toISOString();
  let applied: Record<string, unknown> = {};
  const outcome = await s.store.approveChangeRequest(requestId, who.actor, at, async (p) => {
    applied = await APPLY[r.action](p, r, who.actor, at);
  });
  if (outcome !== "approved") {
    await s.audit.record(who.actor, "change.approval_refused", r.target, {
      request_id: requestId,
      action: r.action,
      requested_by: r.requestedBy,
      reason: outcome,
    });
    const [code, message] = REFUSED[outcome];
    throw new ControlPlaneError(code, message);
  }
  const detail = { request_id: requestId, requested_by: r.requestedBy, approved_by: who.actor };
  await s.audit.record(who.actor, "change.approved", r.target, { ...detail, action: r.action });
  await s.audit.record(who.actor, APPLIED_EVENT[r.action], r.target, { ...detail, ...applied });
  return (await s.store.getChangeRequest(requestId)) as ChangeRequestRecord;
}

/** Rejects a pending request (the requester may withdraw their own): it never applies. */
export async function rejectRequest(
  s: Services,
  who: Principal,
  requestId: string,
  note: string | null,
): Promise<ChangeRequestRecord> {
  const r = await decidable(s, who, requestId);
  if (!(await s.store.rejectChangeRequest(requestId, who.actor, s.now().toISOString(), note)))
    throw new ControlPlaneError("conflict", REFUSED.not_pending[1]);
  await s.audit.record(who.actor, "change.rejected", r.target, {
    request_id: requestId,
    action: r.action,
    requested_by: r.requestedBy,
    ...(note ? { note } : {}),
  });
  return (await s.store.getChangeRequest(requestId)) as ChangeRequestRecord;
}

/** The audit event the change itself is recorded as, as when it applies at once. */
const APPLIED_EVENT: Readonly<Record<ChangeAction, string>> = {
  promote_rule: "flywheel.rule_approved",
  enforce_healing: "planner.policy_set",
  lift_kill_switch: "planner.kill_switch_released",
};

type Apply = (
  p: PlannerStore,
  r: ChangeRequestRecord,
  approver: string,
  at: string,
) => Promise<Record<string, unknown>>;

/** Each change, made through the planner's queries on the approval's transaction. */
const APPLY: Readonly<Record<ChangeAction, Apply>> = {
  async lift_kill_switch(p, r, approver, at) {
    const { reason } = KillSwitchLift.parse(JSON.parse(r.payloadJson));
    await p.setKillSwitch(false, reason, at, approver);
    return { reason };
  },
  async enforce_healing(p, r, approver, at) {
    const { policy } = Enforcement.parse(JSON.parse(r.payloadJson));
    await p.putSitePolicy(r.tenantId as string, JSON.stringify(policy), at, approver);
    return { policy };
  },
  async promote_rule(p, r, approver, at) {
    const tenantId = r.tenantId as string;
    const { proposal_id: proposalId, note } = Promotion.parse(JSON.parse(r.payloadJson));
    const proposal = await p.getProposal(tenantId, proposalId);
    if (!proposal) throw new ControlPlaneError("not_found", "no such proposal");
    if (!(await p.decideProposal(tenantId, proposalId, "approved", at, approver, note)))
      throw new ControlPlaneError("conflict", "the proposal was already decided");
    const rule = promotedRule(proposal, approver, at);
    const latest = await p.latestRuleSet(tenantId);
    const rules = latest ? (JSON.parse(latest.rulesJson) as L1RuleEntry[]) : [];
    const version = (latest?.version ?? 0) + 1;
    const written = await p.appendRuleSet({
      tenantId,
      version,
      issuedAt: at,
      rulesJson: JSON.stringify(withRule(rules, rule)),
    });
    // Another writer took this version: nothing is applied; the approver tries again.
    if (!written) throw new ControlPlaneError("conflict", "the rule set changed meanwhile; retry");
    return {
      rule_id: rule.rule_id,
      pattern: proposal.patternKey,
      runbook_id: rule.runbook_id,
      rule_set_version: version,
    };
  },
};
