import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { ApplianceId, sha256Hex, TenantId } from "#protocol";
import { verifyAuditChain } from "../../audit.ts";
import type { AppEnv, Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { createOrder } from "../../orders.ts";
import {
  type CertificateAuthority,
  checkCertificateAuthority,
  createCertificateAuthority,
} from "../../pki/index.ts";
import type { ApplianceRecord } from "../../store/index.ts";
import { plannerRoutes } from "../planner/index.ts";
import { param, readBody } from "../request.ts";
import { exportRoutes } from "./exports.ts";
import { packetRoutes } from "./packets.ts";
import { Approve, CreateOrder, RegisterSite } from "./schemas.ts";

/**
 * The admin API, mounted under /v1/admin behind admin-auth (or an operator session). Every
 * action that changes state is recorded in the hash-chained audit log.
 */
export function adminRoutes(s: Services) {
  const app = new Hono<AppEnv>();

  app.post("/sites", async (c) => {
    const body = await readBody(c, RegisterSite);
    const existing = await s.store.getTenant(body.tenant_id);
    let caCertPem = existing?.caCertPem ?? "";
    if (existing) {
      if (body.ca_cert_pem !== undefined && body.ca_cert_pem.trim() !== existing.caCertPem.trim()) {
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
  });

  app.get("/tenants/:tenant/appliances/:appliance", async (c) => {
    const a = await applianceOf(c, s);
    return c.json(describe(a));
  });

  app.get("/tenants/:tenant/appliances", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    return c.json((await s.store.listAppliances(tenant)).map(describe));
  });

  app.post("/tenants/:tenant/appliances/:appliance/approve", async (c) => {
    const a = await applianceOf(c, s);
    const body = await readBody(c, Approve);
    if (!(await s.store.approve(a.tenantId, a.applianceId, body.evidence_key_fingerprint))) {
      throw new ControlPlaneError("conflict", "not pending with this key fingerprint");
    }
    await s.audit.record(
      c.get("adminActor"),
      "appliance.approved",
      `${a.tenantId}/${a.applianceId}`,
      {
        evidence_key_fingerprint: body.evidence_key_fingerprint,
      },
    );
    return c.json(
      describe((await s.store.getAppliance(a.tenantId, a.applianceId)) as ApplianceRecord),
    );
  });

  app.post("/tenants/:tenant/appliances/:appliance/revoke", async (c) => {
    const a = await applianceOf(c, s);
    if (!(await s.store.revoke(a.tenantId, a.applianceId, s.now().toISOString()))) {
      throw new ControlPlaneError("conflict", "already revoked");
    }
    await s.audit.record(
      c.get("adminActor"),
      "appliance.revoked",
      `${a.tenantId}/${a.applianceId}`,
    );
    return c.json(
      describe((await s.store.getAppliance(a.tenantId, a.applianceId)) as ApplianceRecord),
    );
  });

  app.post("/tenants/:tenant/appliances/:appliance/orders", async (c) => {
    const a = await applianceOf(c, s);
    const body = await readBody(c, CreateOrder);
    if (a.status === "revoked") throw new ControlPlaneError("conflict", "the appliance is revoked");
    const order = await createOrder(s, c.get("adminActor"), a, {
      runbookId: body.runbook_id,
      params: body.params,
      tier: body.tier,
      ttlS: body.ttl_s,
    });
    return c.json(orderView(order), 201);
  });

  app.get("/tenants/:tenant/orders/:order", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    const order = await s.store.getOrder(tenant, c.req.param("order"));
    if (!order) throw new ControlPlaneError("not_found", "no such order");
    return c.json(orderView(order));
  });

  app.get("/tenants/:tenant/appliances/:appliance/evidence", async (c) => {
    const a = await applianceOf(c, s);
    const after = Math.max(0, Number.parseInt(c.req.query("after") ?? "0", 10) || 0);
    const limit = Math.min(
      1000,
      Math.max(1, Number.parseInt(c.req.query("limit") ?? "100", 10) || 100),
    );
    const rows = await s.store.listEvidence(a.tenantId, a.applianceId, after, limit);
    return c.json({ head: a.evidenceHead, bundles: rows.map((r) => JSON.parse(r.bundleJson)) });
  });

  app.get("/tenants/:tenant/alerts", async (c) => {
    return c.json(await s.store.listAlerts(param(c, "tenant", TenantId)));
  });

  app.get("/tenants/:tenant/incidents", async (c) => {
    const tenant = param(c, "tenant", TenantId);
    const rows = await s.store.listIncidents(tenant);
    // The pipeline's status (store.planner) supersedes the status stored on receipt.
    const states = await Promise.all(
      rows.map((r) => s.store.planner.getIncident(tenant, r.applianceId, r.incidentId)),
    );
    return c.json(
      rows.map((r, i) => ({
        status: states[i]?.status ?? r.status,
        incident: JSON.parse(r.bodyJson),
      })),
    );
  });

  app.get("/audit/verify", async (c) => {
    const entries = [];
    for (let after = 0; ; ) {
      const page = await s.store.listAudit(after, 1000);
      entries.push(...page);
      if (page.length < 1000) break;
      after = (page.at(-1) as { seq: number }).seq;
    }
    const broken = verifyAuditChain(entries);
    return c.json({ ok: broken === null, entries: entries.length, first_broken_seq: broken });
  });

  app.get("/audit", async (c) => {
    const after = Math.max(0, Number.parseInt(c.req.query("after") ?? "0", 10) || 0);
    return c.json(await s.store.listAudit(after, 1000));
  });

  app.route("/", plannerRoutes(s));
  app.route("/", exportRoutes(s));
  app.route("/", packetRoutes(s));
  return app;
}

export async function applianceOf(c: Context, s: Services): Promise<ApplianceRecord> {
  const a = await s.store.getAppliance(
    param(c, "tenant", TenantId),
    param(c, "appliance", ApplianceId),
  );
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
  };
}
