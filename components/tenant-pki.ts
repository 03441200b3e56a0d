import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { z } from "zod";
import { TenantId } from "#protocol";
import { ComponentArgsError } from "./errors.ts";

export interface TenantPkiArgs {
  readonly tenantId: string;
  /** The organisation named in the CA's subject (the practice). */
  readonly organization: string;
  /** Default 10 years; appliance certificates it signs last 825 days. */
  readonly validityDays?: number;
}

const Args = z.strictObject({
  tenantId: TenantId,
  organization: z.string().trim().min(1).max(64),
  validityDays: z.int().min(825).max(7300).default(3650),
});

export function validateTenantPkiArgs(args: TenantPkiArgs) {
  const parsed = Args.safeParse(args);
  if (!parsed.success) throw ComponentArgsError.fromZod("TenantPki", parsed.error);
  return parsed.data;
}

/**
 * The tenant CA that signs the appliance's mTLS client certificate: ECDSA P-256 (the control
 * plane signs CSRs with it and accepts nothing else; never tls's P-224 default). Its key is
 * handed to the control plane as a secret; it lives in the Pulumi state encrypted.
 */
export class TenantPki extends pulumi.ComponentResource {
  public readonly caCertPem: pulumi.Output<string>;
  /** PKCS #8 PEM, secret. */
  public readonly caKeyPem: pulumi.Output<string>;

  constructor(name: string, args: TenantPkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("msp:tenant:TenantPki", name, {}, opts);
    const a = validateTenantPkiArgs(args);
    const key = new tls.PrivateKey(
      `${name}-ca-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      { parent: this },
    );
    const cert = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: key.privateKeyPem,
        isCaCertificate: true,
        validityPeriodHours: a.validityDays * 24,
        earlyRenewalHours: 90 * 24,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        subject: { commonName: `${a.tenantId} tenant CA`, organization: a.organization },
      },
      { parent: this },
    );
    this.caCertPem = cert.certPem;
    this.caKeyPem = pulumi.secret(key.privateKeyPemPkcs8);
    this.registerOutputs({ caCertPem: this.caCertPem, caKeyPem: this.caKeyPem });
  }
}
