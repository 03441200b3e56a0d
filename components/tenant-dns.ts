import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { TenantId } from "#protocol";
import { ComponentArgsError } from "./errors.ts";

export interface TenantDnsArgs {
  readonly tenantId: string;
  readonly zone: string;
  readonly zoneId: string;
  /** The control plane's host name the client's name points at. */
  readonly target: pulumi.Input<string>;
}

const Args = z.strictObject({
  tenantId: TenantId,
  zone: z.string().regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/),
  zoneId: z.string().regex(/^[0-9a-f]{32}$/),
  target: z.unknown(),
});

export function validateTenantDnsArgs(args: TenantDnsArgs) {
  const parsed = Args.safeParse(args);
  if (!parsed.success) throw ComponentArgsError.fromZod("TenantDns", parsed.error);
  return { ...parsed.data, hostname: `${parsed.data.tenantId}.${parsed.data.zone}` };
}

/**
 * The client's host name, `<tenant>.<zone>`, a CNAME to the control plane: the appliance and
 * the practice's staff use one stable name per client, so a tenant can move to another
 * control plane by changing one record. Not proxied: the appliance speaks mTLS end to end,
 * which a TLS-terminating proxy would break. TTL 1 means automatic.
 */
export class TenantDns extends pulumi.ComponentResource {
  public readonly hostname: pulumi.Output<string>;
  public readonly recordId: pulumi.Output<string>;

  constructor(name: string, args: TenantDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("msp:tenant:TenantDns", name, {}, opts);
    const a = validateTenantDnsArgs(args);
    const record = new cloudflare.DnsRecord(
      `${name}-cname`,
      {
        zoneId: a.zoneId,
        name: a.hostname,
        type: "CNAME",
        content: args.target,
        ttl: 1,
        proxied: false,
        comment: `MSP compliance: ${a.tenantId} appliance endpoint (mTLS, not proxied)`,
      },
      { parent: this },
    );
    this.hostname = pulumi.output(a.hostname);
    this.recordId = record.id;
    this.registerOutputs({ hostname: this.hostname, recordId: this.recordId });
  }
}
