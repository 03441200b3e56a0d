import { eachEvidenceBucket } from "./evidence-buckets.ts";
import { stackPolicy } from "./types.ts";

/** A bucket with Object Lock but no default retention protects nothing written without one. */
export const evidenceObjectLockAttached = stackPolicy({
  name: "evidence-object-lock-attached",
  description: "Every evidence bucket has an Object Lock configuration with a default retention.",
  check(args, report) {
    eachEvidenceBucket(
      args.resources,
      "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
      (_b, locks) =>
        locks.length === 0 ? "no Object Lock configuration (default retention)" : undefined,
      report,
    );
  },
});
