import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ApplianceId, MacAddress, TenantId } from "#protocol";
import { ComponentArgsError } from "../errors.ts";
import { type EnrollmentInputs, enrollmentProvider } from "./provider.ts";

export interface ApplianceEnrollmentArgs {
  readonly controlPlaneUrl: pulumi.Input<string>;
  readonly controlPlaneCaPem: pulumi.Input<string>;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly macAddresses: readonly string[];
  readonly tenantCaCertPem: pulumi.Input<string>;
  readonly tenantCaKeyPem: pulumi.Input<string>;
  readonly retentionDays: number;
  /** Default 7 days. */
  readonly tokenTtlSeconds?: number;
  /** Default 1; raise it for a fresh token before enrollment. */
  readonly tokenGeneration?: number;
}

const PlainArgs = z.strictObject({
  tenantId: TenantId,
  applianceId: ApplianceId,
  macAddresses: z
    .array(MacAddress)
    .min(1)
    .max(16)
    .refine((m) => new Set(m).size === m.length, "list each MAC address once"),
  retentionDays: z.int().min(2192, "at least 2192 days (six years)").max(36_500),
  tokenTtlSeconds: z
    .int()
    .min(60)
    .max(90 * 24 * 3600)
    .default(7 * 24 * 3600),
  tokenGeneration: z.int().min(1).default(1),
});

/** Pure validation of the plain (non-Output) arguments, before any resource exists. */
export function validateApplianceEnrollmentArgs(args: ApplianceEnrollmentArgs) {
  const { controlPlaneUrl, controlPlaneCaPem, tenantCaCertPem, tenantCaKeyPem, ...plain } = args;
  const parsed = PlainArgs.safeParse(plain);
  if (!parsed.success) throw ComponentArgsError.fromZod("ApplianceEnrollment", parsed.error);
  return parsed.data;
}

/**
 * The appliance's site registration in the control plane (a dynamic resource): the MACs the
 * control plane matches at first boot and the one-time enrollment token, a secret output.
 * Needs MSP_ADMIN_TOKEN (or MSP_ADMIN_TOKEN_FILE) in the environment of `pulumi up`.
 */
export class ApplianceEnrollment extends pulumi.dynamic.Resource {
  declare public readonly enrollmentToken: pulumi.Output<string>;
  declare public readonly tokenExpiresAt: pulumi.Output<string>;
  declare public readonly status: pulumi.Output<string>;
  declare public readonly macAddresses: pulumi.Output<string[]>;
  declare public readonly tenantId: pulumi.Output<string>;
  declare public readonly applianceId: pulumi.Output<string>;

  constructor(name: string, args: ApplianceEnrollmentArgs, opts?: pulumi.CustomResourceOptions) {
    const plain = validateApplianceEnrollmentArgs(args);
    const inputs: { [K in keyof EnrollmentInputs]: pulumi.Input<EnrollmentInputs[K]> } = {
      controlPlaneUrl: args.controlPlaneUrl,
      controlPlaneCaPem: args.controlPlaneCaPem,
      tenantId: plain.tenantId,
      applianceId: plain.applianceId,
      macAddresses: [...plain.macAddresses].sort(),
      tenantCaCertPem: args.tenantCaCertPem,
      tenantCaKeyPem: pulumi.secret(args.tenantCaKeyPem),
      retentionDays: plain.retentionDays,
      tokenTtlSeconds: plain.tokenTtlSeconds,
      tokenGeneration: plain.tokenGeneration,
    };
    super(
      enrollmentProvider,
      name,
      { ...inputs, enrollmentToken: undefined, tokenExpiresAt: undefined, status: undefined },
      {
        ...opts,
        additionalSecretOutputs: ["enrollmentToken", "tenantCaKeyPem"],
      },
      "msp",
      "ApplianceEnrollment",
    );
  }
}
