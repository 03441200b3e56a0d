import * as pulumi from "@pulumi/pulumi";
import { ApplianceEnrollment } from "./enrollment/appliance-enrollment.ts";
import { ComponentArgsError } from "./errors.ts";
import { EvidenceVault } from "./evidence-vault/index.ts";
import { TenantStackConfig } from "./stack-config.ts";
import { TenantDns } from "./tenant-dns.ts";
import { TenantPki } from "./tenant-pki.ts";

/** Where the client's appliance and stack find the control plane (the central stack's outputs). */
export interface ControlPlaneRef {
  readonly url: pulumi.Input<string>;
  readonly hostname: pulumi.Input<string>;
  readonly caCertificatePem: pulumi.Input<string>;
}

export type ClientTenantArgs = Omit<TenantStackConfig, "kind" | "centralStack"> & {
  readonly controlPlane: ControlPlaneRef;
};

export function validateClientTenantArgs(args: ClientTenantArgs) {
  const { controlPlane, ...plain } = args;
  const parsed = TenantStackConfig.omit({ kind: true, centralStack: true }).safeParse(plain);
  if (!parsed.success) throw ComponentArgsError.fromZod("ClientTenant", parsed.error);
  return { ...parsed.data, controlPlane };
}

/**
 * One client (a practice) in one `pulumi up`: its host name, its tenant CA, its WORM evidence
 * vault and its appliance's enrollment record in the control plane. The operator reads the
 * enrollment token (secret) from the stack outputs and types it at the appliance's console.
 */
export class ClientTenant extends pulumi.ComponentResource {
  public readonly hostname: pulumi.Output<string>;
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  public readonly retentionDays: pulumi.Output<number>;
  public readonly caCertificatePem: pulumi.Output<string>;
  public readonly enrollmentToken: pulumi.Output<string>;
  public readonly enrollmentTokenExpiresAt: pulumi.Output<string>;
  public readonly applianceId: pulumi.Output<string>;
  public readonly applianceMacs: pulumi.Output<string[]>;
  public readonly controlPlaneUrl: pulumi.Output<string>;
  public readonly evidenceWriterAccessKeyId: pulumi.Output<string>;
  public readonly evidenceWriterSecretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: ClientTenantArgs, opts?: pulumi.ComponentResourceOptions) {
    super("msp:tenant:ClientTenant", name, {}, opts);
    const a = validateClientTenantArgs(args);
    const parent = { parent: this };

    const dns = new TenantDns(
      `${name}-dns`,
      {
        tenantId: a.clientSlug,
        zone: a.dnsZone,
        zoneId: a.cloudflareZoneId,
        target: a.controlPlane.hostname,
      },
      parent,
    );
    const pki = new TenantPki(
      `${name}-pki`,
      { tenantId: a.clientSlug, organization: a.clientName },
      parent,
    );
    const vault = new EvidenceVault(
      `${name}-vault`,
      {
        tenantId: a.clientSlug,
        retentionDays: a.retentionDays,
        coldStorageAfterDays: a.coldStorageAfterDays,
      },
      parent,
    );
    const enrollment = new ApplianceEnrollment(
      `${name}-enrollment`,
      {
        controlPlaneUrl: a.controlPlane.url,
        controlPlaneCaPem: a.controlPlane.caCertificatePem,
        tenantId: a.clientSlug,
        applianceId: a.applianceId,
        macAddresses: a.applianceMacs,
        tenantCaCertPem: pki.caCertPem,
        tenantCaKeyPem: pki.caKeyPem,
        retentionDays: a.retentionDays,
        tokenTtlSeconds: a.enrollmentTokenTtlHours * 3600,
        tokenGeneration: a.enrollmentTokenGeneration,
      },
      parent,
    );

    this.hostname = dns.hostname;
    this.bucketName = vault.bucketName;
    this.bucketArn = vault.bucketArn;
    this.retentionDays = vault.retentionDays;
    this.caCertificatePem = pki.caCertPem;
    this.enrollmentToken = pulumi.secret(enrollment.enrollmentToken);
    this.enrollmentTokenExpiresAt = enrollment.tokenExpiresAt;
    this.applianceId = pulumi.output(a.applianceId);
    this.applianceMacs = pulumi.output([...a.applianceMacs].sort());
    this.controlPlaneUrl = pulumi.output(a.controlPlane.url);
    this.evidenceWriterAccessKeyId = vault.writerAccessKeyId;
    this.evidenceWriterSecretAccessKey = vault.writerSecretAccessKey;
    this.registerOutputs({
      hostname: this.hostname,
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      retentionDays: this.retentionDays,
      caCertificatePem: this.caCertificatePem,
      enrollmentToken: this.enrollmentToken,
      enrollmentTokenExpiresAt: this.enrollmentTokenExpiresAt,
      applianceId: this.applianceId,
      applianceMacs: this.applianceMacs,
      controlPlaneUrl: this.controlPlaneUrl,
      evidenceWriterAccessKeyId: this.evidenceWriterAccessKeyId,
      evidenceWriterSecretAccessKey: this.evidenceWriterSecretAccessKey,
    });
  }
}
