import type { ReportViolation } from "@pulumi/policy";
import type { StackResource } from "./types.ts";

/** How the platform marks an evidence bucket (EvidenceVault sets it). */
export const EVIDENCE_TAG = { key: "msp:purpose", value: "hipaa-evidence" } as const;
export const BUCKET = "aws:s3/bucket:Bucket";
/** Six years in days, whatever the leap days (45 CFR 164.316(b)(2)(i)). */
export const MIN_RETENTION_DAYS = 2192;

export function isEvidenceBucket(r: { type: string; props: Record<string, unknown> }): boolean {
  const tags = r.props.tags as Record<string, unknown> | undefined;
  return r.type === BUCKET && tags?.[EVIDENCE_TAG.key] === EVIDENCE_TAG.value;
}

/**
 * For every evidence bucket, the resources of `type` whose `bucket` input comes from it
 * (property dependencies are known in preview, before the bucket has a name).
 */
export function eachEvidenceBucket(
  resources: readonly StackResource[],
  type: string,
  check: (bucket: StackResource, attached: readonly StackResource[]) => string | undefined,
  report: ReportViolation,
): void {
  for (const bucket of resources.filter(isEvidenceBucket)) {
    const attached = resources.filter(
      (r) =>
        r.type === type && (r.propertyDependencies.bucket ?? []).some((d) => d.urn === bucket.urn),
    );
    const problem = check(bucket, attached);
    if (problem) report(`evidence bucket ${bucket.name}: ${problem}`, bucket.urn);
  }
}
