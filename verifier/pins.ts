import { z } from "zod";
import { ApplianceId, Sha256Hex, TenantId, tryParseMessage } from "../protocol/index.ts";

/**
 * Trust roots the auditor brings, never taken from the export: the control plane's key id and
 * each appliance's evidence key id (hex SHA-256 of the raw 32-byte public key; docs/auditor.md
 * shows how to compute one with OpenSSL and where each comes from).
 */
export interface Pins {
  readonly controlPlaneKeyIds: readonly string[];
  /** An appliance pin without tenant and appliance applies to whichever export is verified. */
  readonly appliances: readonly {
    readonly tenantId?: string;
    readonly applianceId?: string;
    readonly keyId: string;
  }[];
}

export const NO_PINS: Pins = { controlPlaneKeyIds: [], appliances: [] };

/** A pins file: `{"v":1,"control_plane_key_ids":[…],"appliances":[{tenant_id,appliance_id,key_id}]}`. */
export const PinsFile = z.strictObject({
  v: z.literal(1),
  control_plane_key_ids: z.array(Sha256Hex).max(100),
  appliances: z
    .array(z.strictObject({ tenant_id: TenantId, appliance_id: ApplianceId, key_id: Sha256Hex }))
    .max(100_000),
});

export function parsePinsFile(
  text: string,
): { ok: true; pins: Pins } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: "the pins file is not JSON" };
  }
  const parsed = tryParseMessage(PinsFile, raw);
  if (!parsed.ok) return { ok: false, problem: parsed.problem };
  return {
    ok: true,
    pins: {
      controlPlaneKeyIds: parsed.value.control_plane_key_ids,
      appliances: parsed.value.appliances.map((a) => ({
        tenantId: a.tenant_id,
        applianceId: a.appliance_id,
        keyId: a.key_id,
      })),
    },
  };
}

export function mergePins(a: Pins, b: Pins): Pins {
  return {
    controlPlaneKeyIds: [...a.controlPlaneKeyIds, ...b.controlPlaneKeyIds],
    appliances: [...a.appliances, ...b.appliances],
  };
}

/** The appliance key ids pinned for this tenant and appliance. */
export function applianceKeyPins(pins: Pins, tenantId: string, applianceId: string): string[] {
  return pins.appliances
    .filter(
      (p) =>
        (p.tenantId === undefined || p.tenantId === tenantId) &&
        (p.applianceId === undefined || p.applianceId === applianceId),
    )
    .map((p) => p.keyId);
}
