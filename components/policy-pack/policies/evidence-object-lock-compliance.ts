import { BUCKET, isEvidenceBucket, MIN_RETENTION_DAYS } from "./evidence-buckets.ts";
import { resourcePolicy } from "./types.ts";

const LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration";

/** Evidence is WORM: Object Lock from creation, default retention COMPLIANCE ≥ six years. */
export const evidenceObjectLockCompliance = resourcePolicy({
  name: "evidence-object-lock-compliance",
  description:
    "Evidence buckets are created with Object Lock, and every default retention is COMPLIANCE mode for at least 2192 days (six years, 45 CFR 164.316(b)(2)(i)).",
  check(args, report) {
    if (args.type === BUCKET && isEvidenceBucket(args) && args.props.objectLockEnabled !== true) {
      report(
        "an evidence bucket must be created with objectLockEnabled: true (it cannot be added later)",
      );
    }
    if (args.type !== LOCK) return;
    const retention = args.props.rule?.defaultRetention as
      | { mode?: string; days?: number; years?: number }
      | undefined;
    if (!retention) {
      report("the Object Lock configuration has no default retention");
      return;
    }
    if (retention.mode !== "COMPLIANCE") {
      report(
        `default retention mode is ${retention.mode ?? "unset"}; use COMPLIANCE (GOVERNANCE can be bypassed)`,
      );
    }
    const days =
      retention.days ??
      (retention.years === undefined
        ? 0
        : retention.years >= 6
          ? MIN_RETENTION_DAYS
          : retention.years * 365);
    if (days < MIN_RETENTION_DAYS) {
      report(
        `default retention is ${retention.days !== undefined ? `${retention.days} days` : `${retention.years ?? 0} years`}; at least ${MIN_RETENTION_DAYS} days (six years)`,
      );
    }
  },
});
