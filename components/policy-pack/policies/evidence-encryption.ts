import { eachEvidenceBucket } from "./evidence-buckets.ts";
import { stackPolicy } from "./types.ts";

const KMS = ["aws:kms", "aws:kms:dsse"];

export const evidenceEncryption = stackPolicy({
  name: "evidence-encryption",
  description:
    "Every evidence bucket encrypts by default with a KMS key (SSE-KMS), so access to evidence is also governed by the key policy and logged in CloudTrail.",
  check(args, report) {
    eachEvidenceBucket(
      args.resources,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      (_b, found) => {
        const rules = found.flatMap(
          (c) =>
            (c.props.rules ?? []) as {
              applyServerSideEncryptionByDefault?: { sseAlgorithm?: string };
            }[],
        );
        return rules.some((r) =>
          KMS.includes(r.applyServerSideEncryptionByDefault?.sseAlgorithm ?? ""),
        )
          ? undefined
          : "no default SSE-KMS encryption";
      },
      report,
    );
  },
});
