import { randomBytes } from "node:crypto";
import { z } from "zod";
import { sha256Hex, TenantId } from "#protocol";
import { verifyAuditChain } from "../../audit.ts";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { createOrder } from "../../orders.ts";
import {
  type CertificateAuthority,
  checkCertificateAuthority,
  createCertificateAuthority,
} from "../../pki/index.ts";
import type { ApplianceRecord, OrderWithdrawal } from "../../store/index.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";
import {
  Alerts,
  ApplianceView,
  AuditPage,
  AuditVerdict,
  EvidencePage,
  Incidents,
  OrderView,
  SiteRegistered,
} from "./responses.ts";
import {
  ApplianceParams,
  Approve,
  CreateOrder,
  Paging,
  pageNumber,
  RegisterSite,
  TenantParams,
} from "./schemas.ts";
import { describe, findAppliance, tenantRead } from "./views.ts";

const OrderParams = z.object({ tenant: TenantId, order: z.string() });

/**
 * Sites, appliances, orders, evidence, alerts, incidents and the audit log: the operator API,
 * served under /v1/admin (admin token) and /v1/operator (session + CSRF). Every action that
 * changes state is recorded in the hash-chained audit log.
 */
export function siteRoutes(s: Services): Route[] {
  return [
    defineRoute({
      method: "post",
      path: "/sites",
      operationId: "register_site",
      summary: "Register a site's appliance (and its tenant the first time)",
      auth: operatorApi("admin"),
      body: RegisterSite,
      response: { status: 201, schema: SiteRegistered },
      handler: async (c, { body }) => {
        const existing = await s.store.getTenant(body.tenant_id);
        let caCertPem = existing?.caCertPem ?? "";
        if (existing) {
          if (
            body.ca_cert_pem !== undefined &&
            body.ca_cert_pem.trim() !== existing.caCertPem.trim()
          ) {
            throw new ControlPlaneError("conflict", "the tenant is registered with another CA");
          }
        } else {
          let ca: CertificateAuthority;
          if (body.ca_cert_pem === undefined && body.ca_key_pem === undefined) {
            // No tenant PKI supplied (lab, tests): the control plane makes the tenant CA itself.
            ca = await createCertificateAuthority(`${body.tenant_id} tenant CA`);
          } else if (body.ca_cert_pem === undefined || body.ca_key_pem === undefined) {
            throw new ControlPlaneError(
              "invalid_request",
              "give both ca_cert_pem and ca_key_pem, or neither",
            );
          } else {
            ca = { certPem: body.ca_cert_pem, keyPem: body.ca_key_pem };
            const problem = await checkCertificateAuthority(ca);
            if (problem) throw new ControlPlaneError("invalid_request", problem);
          }
          caCertPem = ca.certPem;
          await s.store.upsertTenant({
            tenantId: body.tenant_id,
            caCertPem: ca.certPem,
            caKeySealed: s.secretBox.seal(ca.keyPem),
            retentionDays: body.retention_days,
          });
        }
        let token: string | undefined;
        let tokenHash: string | null = null;
        if (!body.approval_only) {
          if (body.enrollment_token_sha256) {
            tokenHash = body.enrollment_token_sha256;
          } else {
            token = randomBytes(32).toString("base64url");
            tokenHash = sha256Hex(new TextEncoder().encode(token));
          }
        }
        const now = s.now();
        const tokenExpiresAt = tokenHash
          ? new Date(now.getTime() + body.token_ttl_s * 1000).toISOString()
          : null;
        const created = await s.store.registerAppliance({
          tenantId: body.tenant_id,
          applianceId: body.appliance_id,
          macs: body.mac_addresses,
          settings: body.settings,
          tokenHash,
          tokenExpiresAt,
          createdAt: now.toISOString(),
        });
        if (!created)
          throw new ControlPlaneError("conflict", "this appliance id is already registered");
        await s.audit.record(
          c.get("adminActor"),
          "site.registered",
          `${body.tenant_id}/${body.appliance_id}`,
          {
            mac_addresses: body.mac_addresses,
            token: tokenHash ? "one-time" : "none (operator approval)",
          },
        );
        return c.json(
          {
            tenant_id: body.tenant_id,
            appliance_id: body.appliance_id,
            // Shown once; only its hash is stored.
            ...(token ? { enrollment_token: token } : {}),
            token_expires_at: tokenExpiresAt,
            tenant_ca_certificate_pem: caCertPem,
          },
          201,
        );
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/appliances/{appliance}",
      operationId: "get_appliance",
      summary: "One appliance",
      auth: operatorApi("read"),
      params: ApplianceParams,
      response: { schema: ApplianceView },
      handler: async (c, { params }) => c.json(describe(await findAppliance(s, params))),
    }),
    tenantRead(
      "/appliances",
      "list_appliances",
      "A tenant's appliances",
      z.array(ApplianceView),
      async (t) => (await s.store.listAppliances(t)).map(describe),
    ),
    defineRoute({
      method: "post",
      path: "/tenants/{tenant}/appliances/{appliance}/approve",
      operationId: "approve_appliance",
      summary: "Approve a pending appliance whose key fingerprint the operator compared",
      auth: operatorApi("decide"),
      params: ApplianceParams,
      body: Approve,
      response: { schema: ApplianceView },
      handler: async (c, { params, body }) => {
        const a = await findAppliance(s, params);
        if (!(await s.store.approve(a.tenantId, a.applianceId, body.evidence_key_fingerprint))) {
          throw new ControlPlaneError("conflict", "not pending with this key fingerprint");
        }
        await s.audit.record(
          c.get("adminActor"),
          "appliance.approved",
          `${a.tenantId}/${a.applianceId}`,
          { evidence_key_fingerprint: body.evidence_key_fingerprint },
        );
        return c.json(describe(await reload(s, a)));
      },
    }),
    defineRoute({
      method: "post",
      path: "/tenants/{tenant}/appliances/{appliance}/revoke",
      operationId: "revoke_appliance",
      summary: "Revoke an appliance's certificate binding",
      auth: operatorApi("decide"),
      params: ApplianceParams,
      response: { schema: ApplianceView },
      handler: async (c, { params }) => {
        const a = await findAppliance(s, params);
        if (!(await s.store.revoke(a.tenantId, a.applianceId, s.now().toISOString()))) {
          throw new ControlPlaneError("conflict", "already revoked");
        }
        await s.audit.record(
          c.get("adminActor"),
          "appliance.revoked",
          `${a.tenantId}/${a.applianceId}`,
        );
        return c.json(describe(await reload(s, a)));
      },
    }),
    defineRoute({
      method: "post",
      path: "/tenants/{tenant}/appliances/{appliance}/orders",
      operationId: "create_order",
      summary: "Issue an order (a runbook from the appliance's allowlist)",
      auth: operatorApi("decide"),
      params: ApplianceParams,
      body: CreateOrder,
      response: { status: 201, schema: OrderView },
      handler: async (c, { params, body }) => {
        const a = await findAppliance(s, params);
        if (a.status === "revoked")
          throw new ControlPlaneError("conflict", "the appliance is revoked");
        const order = await createOrder(s, c.get("adminActor"), a, {
          runbookId: body.runbook_id,
          params: body.params,
          tier: body.tier,
          ttlS: body.ttl_s,
        });
        return c.json(orderView(order), 201);
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/orders/{order}",
      operationId: "get_order",
      summary: "One order and its result",
      auth: operatorApi("read"),
      params: OrderParams,
      response: { schema: OrderView },
      handler: async (c, { params }) => {
        const order = await s.store.getOrder(params.tenant, params.order);
        if (!order) throw new ControlPlaneError("not_found", "no such order");
        return c.json(orderView(order));
      },
    }),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/appliances/{appliance}/evidence",
      operationId: "list_evidence",
      summary: "A page of an appliance's evidence bundles after a sequence number",
      auth: operatorApi("read"),
      params: ApplianceParams,
      query: Paging,
      response: { schema: EvidencePage },
      handler: async (c, { params, query }) => {
        const a = await findAppliance(s, params);
        const after = pageNumber(query.after, 0);
        const limit = pageNumber(query.limit, 100, 1, 1000);
        const rows = await s.store.listEvidence(a.tenantId, a.applianceId, after, limit);
        return c.json({
          head: a.evidenceHead,
          bundles: rows.map((r) => JSON.parse(r.bundleJson)),
        });
      },
    }),
    tenantRead("/alerts", "list_alerts", "A tenant's alerts", Alerts, (t) => s.store.listAlerts(t)),
    defineRoute({
      method: "get",
      path: "/tenants/{tenant}/incidents",
      operationId: "list_incidents",
      summary: "A tenant's incidents with their pipeline status",
      auth: operatorApi("read"),
      params: TenantParams,
      response: { schema: Incidents },
      handler: async (c, { params }) => {
        const rows = await s.store.listIncidents(params.tenant);
        // The pipeline's status (store.planner) supersedes the status stored on receipt.
        const states = await Promise.all(
          rows.map((r) => s.store.planner.getIncident(params.tenant, r.applianceId, r.incidentId)),
        );
        return c.json(
          rows.map((r, i) => ({
            status: states[i]?.status ?? r.status,
            incident: JSON.parse(r.bodyJson),
          })),
        );
      },
    }),
    defineRoute({
      method: "get",
      path: "/audit/verify",
      operationId: "verify_audit",
      summary: "Verify the whole audit hash chain",
      auth: operatorApi("admin"),
      response: { schema: AuditVerdict },
      handler: async (c) => {
        const entries = [];
        for (let after = 0; ; ) {
          const page = await s.store.listAudit(after, 1000);
          entries.push(...page);
          if (page.length < 1000) break;
          after = (page.at(-1) as { seq: number }).seq;
        }
        const broken = verifyAuditChain(entries);
        return c.json({ ok: broken === null, entries: entries.length, first_broken_seq: broken });
      },
    }),
    defineRoute({
      method: "get",
      path: "/audit",
      operationId: "list_audit",
      summary: "A page of the audit log after a sequence number",
      auth: operatorApi("admin"),
      query: Paging.pick({ after: true }),
      response: { schema: AuditPage },
      handler: async (c, { query }) =>
        c.json(await s.store.listAudit(pageNumber(query.after, 0), 1000)),
    }),
  ];
}

const reload = async (s: Services, a: ApplianceRecord) =>
  (await s.store.getAppliance(a.tenantId, a.applianceId)) as ApplianceRecord;

function orderView(o: {
  orderId: string;
  tenantId: string;
  applianceId: string;
  seq: number;
  runbookId: string;
  params: unknown;
  tier: string;
  issuedAt: string;
  expiresAt: string;
  status: string;
  result: unknown;
  withdrawal: OrderWithdrawal | null;
}) {
  return {
    order_id: o.orderId,
    tenant_id: o.tenantId,
    appliance_id: o.applianceId,
    seq: o.seq,
    runbook_id: o.runbookId,
    params: o.params,
    tier: o.tier,
    issued_at: o.issuedAt,
    expires_at: o.expiresAt,
    status: o.status,
    result: o.result,
    withdrawal: o.withdrawal
      ? {
          reason: o.withdrawal.reason,
          by: o.withdrawal.by,
          at: o.withdrawal.at,
          previous_status: o.withdrawal.previousStatus,
        }
      : null,
  };
}
