import { eachEvidenceBucket } from "./evidence-buckets.ts";
import { stackPolicy } from "./types.ts";

const FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];

export const evidencePublicAccessBlocked = stackPolicy({
  name: "evidence-public-access-blocked",
  description: "Every evidence bucket blocks all public access (all four switches on).",
  check(args, report) {
    eachEvidenceBucket(
      args.resources,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      (_b, found) => {
        const off = FLAGS.filter((f) => !found.some((b) => b.props[f] === true));
        return off.length === 0 ? undefined : `public access not blocked: ${off.join(", ")} off`;
      },
      report,
    );
  },
});
