import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

/**
 * What a policy reads of a resource: the fields Pulumi's policy engine hands over, without
 * the helpers (isType, asType) the policies here do not use, so tests build them as data.
 */
export type ResourceArgs = Pick<ResourceValidationArgs, "type" | "props" | "urn" | "name">;
export interface StackResource
  extends Pick<ResourceValidationArgs, "type" | "props" | "urn" | "name"> {
  readonly propertyDependencies: Readonly<Record<string, readonly StackResource[]>>;
}
export interface StackArgs {
  readonly resources: readonly StackResource[];
}

export interface MspResourcePolicy extends ResourceValidationPolicy {
  readonly kind: "resource";
  check(args: ResourceArgs, report: ReportViolation): void;
}
export interface MspStackPolicy extends StackValidationPolicy {
  readonly kind: "stack";
  check(args: StackArgs, report: ReportViolation): void;
}
export type MspPolicy = MspResourcePolicy | MspStackPolicy;

/** A policy that validates one resource at a time. */
export function resourcePolicy(
  p: Omit<MspResourcePolicy, "kind" | "validateResource" | "enforcementLevel">,
): MspResourcePolicy {
  return {
    ...p,
    kind: "resource",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) =>
      p.check(args, report),
  };
}

/** A policy that validates the whole stack (relations between resources). */
export function stackPolicy(
  p: Omit<MspStackPolicy, "kind" | "validateStack" | "enforcementLevel">,
): MspStackPolicy {
  return {
    ...p,
    kind: "stack",
    enforcementLevel: "mandatory",
    validateStack: (args: StackValidationArgs, report: ReportViolation) =>
      p.check(args as unknown as StackArgs, report),
  };
}
