import * as pulumi from "@pulumi/pulumi";
import { ClientTenant } from "./client-tenant.ts";
import { ControlPlaneHost } from "./control-plane-host/index.ts";
import {
  type CentralStackConfig,
  parseStackConfig,
  type TenantStackConfig,
} from "./stack-config.ts";

/**
 * The stack program: parse the stack's configuration strictly, then build the central stack
 * or one client tenant. Returns the stack outputs (`pulumi stack output`).
 */
export async function runProgram(
  all: Readonly<Record<string, string>> = pulumi.runtime.allConfig(),
  stack: string = pulumi.getStack(),
): Promise<Record<string, pulumi.Output<unknown>>> {
  const config = parseStackConfig(all, stack);
  return config.kind === "central" ? centralStack(config) : tenantStack(config);
}

function centralStack(config: CentralStackConfig) {
  const { kind: _kind, ...args } = config;
  const host = new ControlPlaneHost("control-plane", args);
  return {
    controlPlaneUrl: host.url,
    controlPlaneHostname: host.hostname,
    controlPlaneCaCertificate: host.caCertificatePem,
    orderSigningPublicKey: host.orderSigningPublicKey,
    controlPlaneIpv4: host.ipv4,
    controlPlaneServerId: host.serverId,
    controlPlaneVersion: host.version,
  };
}

function tenantStack(config: TenantStackConfig) {
  const { kind: _kind, centralStack, ...args } = config;
  const central = new pulumi.StackReference(centralStack);
  const tenant = new ClientTenant(config.clientSlug, {
    ...args,
    controlPlane: {
      url: central.requireOutput("controlPlaneUrl") as pulumi.Output<string>,
      hostname: central.requireOutput("controlPlaneHostname") as pulumi.Output<string>,
      caCertificatePem: central.requireOutput("controlPlaneCaCertificate") as pulumi.Output<string>,
    },
  });
  return {
    clientName: pulumi.output(config.clientName),
    hostname: tenant.hostname,
    bucketName: tenant.bucketName,
    bucketArn: tenant.bucketArn,
    retentionDays: tenant.retentionDays,
    caCertificate: tenant.caCertificatePem,
    enrollmentToken: tenant.enrollmentToken,
    enrollmentTokenExpiresAt: tenant.enrollmentTokenExpiresAt,
    applianceId: tenant.applianceId,
    applianceMacs: tenant.applianceMacs,
    controlPlaneUrl: tenant.controlPlaneUrl,
    orderSigningPublicKey: central.requireOutput("orderSigningPublicKey"),
    evidenceWriterAccessKeyId: tenant.evidenceWriterAccessKeyId,
    evidenceWriterSecretAccessKey: tenant.evidenceWriterSecretAccessKey,
  };
}
