import { ControlPlaneError } from "../../errors.ts";
import type { ApplianceRecord } from "../../store/index.ts";

/** A body naming another tenant or appliance than the client certificate's binding is refused. */
export function sameIdentity(
  appliance: ApplianceRecord,
  body: { tenant_id: string; appliance_id: string },
): void {
  if (body.tenant_id !== appliance.tenantId || body.appliance_id !== appliance.applianceId) {
    throw new ControlPlaneError(
      "forbidden",
      "the body names another tenant or appliance than the client certificate",
    );
  }
}
