import { eachEvidenceBucket } from "./evidence-buckets.ts";
import { parsePolicyDocument } from "./iam-documents.ts";
import { stackPolicy } from "./types.ts";

export const evidenceTlsOnly = stackPolicy({
  name: "evidence-tls-only",
  description:
    "Every evidence bucket's policy denies any request not made over TLS (aws:SecureTransport false).",
  check(args, report) {
    eachEvidenceBucket(
      args.resources,
      "aws:s3/bucketPolicy:BucketPolicy",
      (_b, found) => {
        const denies = found
          .flatMap((p) => parsePolicyDocument(p.props.policy))
          .filter((s) => s.Effect === "Deny");
        const tlsOnly = denies.some((s) => {
          const condition = s.Condition?.Bool?.["aws:SecureTransport"];
          return String(condition) === "false" && s.actions.some((a) => a === "s3:*" || a === "*");
        });
        return tlsOnly ? undefined : "the bucket policy does not deny requests without TLS";
      },
      report,
    );
  },
});
