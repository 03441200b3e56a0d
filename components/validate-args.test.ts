import { describe, expect, it } from "vitest";
import { validateControlPlaneHostArgs } from "./control-plane-host/index.ts";
import { validateApplianceEnrollmentArgs } from "./enrollment/appliance-enrollment.ts";
import { ComponentArgsError } from "./errors.ts";
import { validateEvidenceVaultArgs } from "./evidence-vault/index.ts";
import { parseStackConfig } from "./stack-config.ts";
import { validateTenantDnsArgs } from "./tenant-dns.ts";
import { validateTenantPkiArgs } from "./tenant-pki.ts";
import { CENTRAL_CONFIG } from "./testing/configs.ts";
import { signedTestRelease } from "./testing/release.ts";

/** Each component refuses bad arguments before it creates anything, naming itself and the field. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ComponentArgsError);
    expect((error as ComponentArgsError).code).toBe("invalid_args");
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}

const central = parseStackConfig(CENTRAL_CONFIG, "central");
if (central.kind !== "central") throw new Error("central config expected");
const { kind: _kind, ...hostArgs } = central;

const enrollment = {
  controlPlaneUrl: "https://cp.example.net",
  controlPlaneCaPem: "ca",
  tenantId: "riverside",
  applianceId: "appliance-1",
  macAddresses: ["52:54:00:12:34:56"],
  tenantCaCertPem: "cert",
  tenantCaKeyPem: "key",
  retentionDays: 2192,
};

describe("validate…Args", () => {
  it.each([
    [
      "EvidenceVault under six years",
      () => validateEvidenceVaultArgs({ tenantId: "riverside", retentionDays: 2000 }),
      "EvidenceVault: retentionDays: at least 2192 days (six years)",
    ],
    [
      "EvidenceVault cold storage after retention",
      () =>
        validateEvidenceVaultArgs({
          tenantId: "riverside",
          retentionDays: 2192,
          coldStorageAfterDays: 5000,
        }),
      "EvidenceVault: coldStorageAfterDays:",
    ],
    [
      "TenantPki without organisation",
      () => validateTenantPkiArgs({ tenantId: "riverside", organization: " " }),
      "TenantPki: organization:",
    ],
    [
      "TenantPki with a bad tenant id",
      () => validateTenantPkiArgs({ tenantId: "Riverside", organization: "R" }),
      "TenantPki: tenantId: use 1-63 lower-case",
    ],
    [
      "TenantDns with a bad zone id",
      () =>
        validateTenantDnsArgs({
          tenantId: "riverside",
          zone: "clinics.example.net",
          zoneId: "x",
          target: "cp",
        }),
      "TenantDns: zoneId:",
    ],
    [
      "ApplianceEnrollment with a MAC twice",
      () =>
        validateApplianceEnrollmentArgs({
          ...enrollment,
          macAddresses: ["52:54:00:12:34:56", "52:54:00:12:34:56"],
        }),
      "ApplianceEnrollment: macAddresses: list each MAC address once",
    ],
    [
      "ApplianceEnrollment with a short token TTL",
      () => validateApplianceEnrollmentArgs({ ...enrollment, tokenTtlSeconds: 5 }),
      "ApplianceEnrollment: tokenTtlSeconds:",
    ],
    [
      "ControlPlaneHost named inside the tenant zone",
      () => validateControlPlaneHostArgs({ ...hostArgs, hostname: "cp.clinics.example.net" }),
      "ControlPlaneHost: hostname: cp.clinics.example.net is a name in tenantDnsZone",
    ],
    [
      "ControlPlaneHost with a quote in the release URL",
      () =>
        validateControlPlaneHostArgs({
          ...hostArgs,
          releaseBaseUrl: "https://x.example.net/a'$(id)",
        }),
      "ControlPlaneHost: releaseBaseUrl: use only",
    ],
    [
      "ControlPlaneHost with a manifest signed by another key",
      () =>
        validateControlPlaneHostArgs({
          ...hostArgs,
          releasePublicKey: signedTestRelease().publicKeyPem,
        }),
      "the release signature does not verify",
    ],
    [
      "ControlPlaneHost with a manifest changed after signing (a zeroed hash)",
      () =>
        validateControlPlaneHostArgs({
          ...hostArgs,
          releaseManifest: hostArgs.releaseManifest.replace(
            /"sha256":"[0-9a-f]+"/,
            `"sha256":"${"0".repeat(64)}"`,
          ),
        }),
      "the release signature does not verify",
    ],
    [
      "ControlPlaneHost with a signed manifest that lists no control plane",
      () => {
        const r = signedTestRelease({
          artifacts: [{ name: "agent", file: "a.mjs", sha256: "cd".repeat(32), size: 1 }],
        });
        return validateControlPlaneHostArgs({
          ...hostArgs,
          releaseManifest: r.manifest,
          releaseSignature: r.signature,
          releasePublicKey: r.publicKeyPem,
        });
      },
      "lists no control-plane artifact",
    ],
  ])("%s", (_what, fn, message) => {
    expect(refusal(fn)).toContain(message);
  });

  it("accepts good arguments and fills defaults", () => {
    expect(validateApplianceEnrollmentArgs(enrollment)).toMatchObject({
      tokenTtlSeconds: 604_800,
      tokenGeneration: 1,
    });
    expect(
      validateTenantDnsArgs({
        tenantId: "riverside",
        zone: "clinics.example.net",
        zoneId: "0".repeat(32),
        target: "cp",
      }).hostname,
    ).toBe("riverside.clinics.example.net");
    expect(validateControlPlaneHostArgs(hostArgs)).toBe(hostArgs);
  });
});
