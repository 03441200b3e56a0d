/** components/: the Pulumi ComponentResources of the platform (docs/contributing.md). */
export {
  ClientTenant,
  type ClientTenantArgs,
  type ControlPlaneRef,
  validateClientTenantArgs,
} from "./client-tenant.ts";
export { renderCloudInit } from "./control-plane-host/cloud-init.ts";
export {
  ControlPlaneHost,
  type ControlPlaneHostArgs,
  rawEd25519PublicKeyBase64,
  validateControlPlaneHostArgs,
} from "./control-plane-host/index.ts";
export {
  ApplianceEnrollment,
  type ApplianceEnrollmentArgs,
  validateApplianceEnrollmentArgs,
} from "./enrollment/appliance-enrollment.ts";
export {
  type EnrollmentInputs,
  type EnrollmentOutputs,
  enrollmentProvider,
} from "./enrollment/provider.ts";
export { ComponentArgsError, type ComponentErrorCode } from "./errors.ts";
export {
  EvidenceVault,
  type EvidenceVaultArgs,
  validateEvidenceVaultArgs,
} from "./evidence-vault/index.ts";
export * from "./evidence-vault/policies.ts";
export { runProgram } from "./program.ts";
export {
  CentralStackConfig,
  parseStackConfig,
  type StackConfig,
  TenantStackConfig,
} from "./stack-config.ts";
export { TenantDns, type TenantDnsArgs, validateTenantDnsArgs } from "./tenant-dns.ts";
export { TenantPki, type TenantPkiArgs, validateTenantPkiArgs } from "./tenant-pki.ts";
