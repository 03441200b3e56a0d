import { signedTestRelease } from "./release.ts";

const release = signedTestRelease();

/**
 * Stack configurations in the shape `pulumi.runtime.allConfig()` hands the program (lists as
 * JSON text), shared by the tests of the program, the components and the policy pack.
 */
export const TENANT_CONFIG: Readonly<Record<string, string>> = {
  "msp:kind": "tenant",
  "msp:clientName": "Riverside Family Clinic",
  "msp:clientSlug": "riverside",
  "msp:applianceMacs": '["52:54:00:12:34:56"]',
  "msp:dnsZone": "clinics.example.net",
  "msp:cloudflareZoneId": "0123456789abcdef0123456789abcdef",
  "msp:centralStack": "organization/msp-compliance/central",
};

export const CENTRAL_CONFIG: Readonly<Record<string, string>> = {
  "msp:kind": "central",
  "msp:hostname": "cp.example.net",
  "msp:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
  "msp:tenantDnsZone": "clinics.example.net",
  "msp:adminCidrs": '["203.0.113.7/32"]',
  "msp:sshPublicKeys": '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@msp"]',
  "msp:releaseBaseUrl": "https://downloads.example.net/msp/0.1.0",
  "msp:releaseManifest": release.manifest,
  "msp:releaseSignature": release.signature,
  "msp:releasePublicKey": release.publicKeyPem,
};
