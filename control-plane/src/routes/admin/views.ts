import type { z } from "zod";
import type { StaffPermission } from "../../access/roles.ts";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { csrKeyFingerprint } from "../../pki/index.ts";
import type { ApplianceRecord } from "../../store/index.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";
import { type ApplianceParams, TenantParams } from "./schemas.ts";

/** The appliance a validated path names, or a 404. */
export async function findAppliance(
  s: Services,
  params: z.output<typeof ApplianceParams>,
): Promise<ApplianceRecord> {
  const a = await s.store.getAppliance(params.tenant, params.appliance);
  if (!a) throw new ControlPlaneError("not_found", "no such appliance");
  return a;
}

/** What the admin API shows of an appliance: no token hash, no CA material. */
export function describe(a: ApplianceRecord) {
  return {
    tenant_id: a.tenantId,
    appliance_id: a.applianceId,
    status: a.status,
    mac_addresses: a.macs,
    settings: a.settings,
    evidence_key_fingerprint: a.evidenceKeyFingerprint,
    tls_key_fingerprint: csrKeyFingerprint(a.csrPem),
    certificate_fingerprint: a.certFingerprint,
    hostname: a.hostname,
    agent_version: a.agentVersion,
    order_seq: a.orderSeq,
    evidence_head: a.evidenceHead,
    enrolled_at: a.enrolledAt,
    revoked_at: a.revokedAt,
    last_seen_at: a.lastSeenAt,
    token_used: a.tokenUsedAt !== null,
  };
}

/** A read of one tenant's data on the operator API: GET, tenant path, JSON of `load`. */
export const tenantRead = (
  path: string,
  operationId: string,
  summary: string,
  schema: z.ZodType,
  load: (tenant: string) => Promise<unknown>,
  permission: StaffPermission = "read",
): Route =>
  defineRoute({
    method: "get",
    path: `/tenants/{tenant}${path}`,
    operationId,
    summary,
    auth: operatorApi(permission),
    params: TenantParams,
    response: { schema },
    handler: async (c, { params }) => c.json(await load(params.tenant)),
  });
