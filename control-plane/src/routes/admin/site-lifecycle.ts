import { randomBytes } from "node:crypto";
import { z } from "zod";
import { Sha256Hex, sha256Hex } from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import type { ApplianceRecord } from "../../store/index.ts";
import { defineRoute, operatorApi, type Route } from "../registry.ts";
import { SiteRemoved, TokenRotated } from "./responses.ts";
import { ApplianceParams } from "./schemas.ts";
import { describe, findAppliance } from "./views.ts";

/** A new one-time token for a registration that has not enrolled yet. */
export const RotateEnrollmentToken = z.strictObject({
  /** The token's SHA-256 (Pulumi makes the token); omit it and the control plane makes one. */
  enrollment_token_sha256: Sha256Hex.optional(),
  token_ttl_s: z
    .int()
    .min(60)
    .max(90 * 24 * 3600)
    .default(7 * 24 * 3600),
});

/**
 * The rest of a site registration's life, for Pulumi's ApplianceEnrollment resource: a new
 * one-time token before enrollment, and removal. Removal deletes a registration that never
 * enrolled; an appliance that did enroll is revoked instead, because its evidence and orders
 * must outlive it (45 CFR 164.316(b)(2)(i)).
 */
export function siteLifecycleRoutes(s: Services): Route[] {
  const rotate = defineRoute({
    method: "post",
    path: "/tenants/{tenant}/appliances/{appliance}/enrollment-token",
    operationId: "rotate_enrollment_token",
    summary: "Replace the one-time token of a registration that has not enrolled",
    auth: operatorApi("admin"),
    params: ApplianceParams,
    body: RotateEnrollmentToken,
    response: { schema: TokenRotated },
    handler: async (c, { params, body }) => {
      const a = await findAppliance(s, params);
      let token: string | undefined;
      let tokenHash = body.enrollment_token_sha256;
      if (tokenHash === undefined) {
        token = randomBytes(32).toString("base64url");
        tokenHash = sha256Hex(new TextEncoder().encode(token));
      }
      const expiresAt = new Date(s.now().getTime() + body.token_ttl_s * 1000).toISOString();
      if (!(await s.store.resetEnrollmentToken(a.tenantId, a.applianceId, tokenHash, expiresAt))) {
        throw new ControlPlaneError(
          "conflict",
          `the appliance is ${a.status}: no token to replace`,
        );
      }
      await s.audit.record(
        c.get("adminActor"),
        "site.token_rotated",
        `${a.tenantId}/${a.applianceId}`,
        { token_expires_at: expiresAt },
      );
      return c.json({
        tenant_id: a.tenantId,
        appliance_id: a.applianceId,
        ...(token ? { enrollment_token: token } : {}),
        token_expires_at: expiresAt,
      });
    },
  });

  const remove = defineRoute({
    method: "delete",
    path: "/tenants/{tenant}/appliances/{appliance}",
    operationId: "remove_site",
    summary: "Delete a registration that never enrolled; revoke one that did",
    auth: operatorApi("admin"),
    params: ApplianceParams,
    response: { schema: SiteRemoved },
    handler: async (c, { params }) => {
      const a = await findAppliance(s, params);
      const target = `${a.tenantId}/${a.applianceId}`;
      if (await s.store.deleteRegistration(a.tenantId, a.applianceId)) {
        await s.audit.record(c.get("adminActor"), "site.deleted", target, { status: a.status });
        return c.json({ tenant_id: a.tenantId, appliance_id: a.applianceId, deleted: true });
      }
      if (a.status !== "revoked") {
        await s.store.revoke(a.tenantId, a.applianceId, s.now().toISOString());
        await s.audit.record(c.get("adminActor"), "appliance.revoked", target, {
          reason: "site removed; evidence kept",
        });
      }
      const kept = (await s.store.getAppliance(a.tenantId, a.applianceId)) as ApplianceRecord;
      return c.json({ ...describe(kept), deleted: false });
    },
  });
  return [rotate, remove];
}
