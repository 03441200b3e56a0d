import { eachEvidenceBucket } from "./evidence-buckets.ts";
import { stackPolicy } from "./types.ts";

export const evidenceVersioning = stackPolicy({
  name: "evidence-versioning",
  description: "Every evidence bucket has versioning enabled (Object Lock protects versions).",
  check(args, report) {
    eachEvidenceBucket(
      args.resources,
      "aws:s3/bucketVersioning:BucketVersioning",
      (_b, found) =>
        found.some((v) => v.props.versioningConfiguration?.status === "Enabled")
          ? undefined
          : "versioning is not enabled",
      report,
    );
  },
});
