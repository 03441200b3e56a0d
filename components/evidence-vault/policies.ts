/**
 * The IAM and bucket policy documents of the evidence vault, as pure functions of ARNs so
 * tests read them as data. The action lists are shared with the policy pack, which enforces
 * the same rule on every identity in a stack.
 */
import { DESTRUCTIVE_ACTIONS } from "../policy-pack/destructive-actions.ts";

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: "*" | { readonly AWS?: string; readonly Service?: string };
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Record<string, Record<string, string | boolean | number>>;
}

/** What the writer may do on objects: put evidence and set (or extend) its retention. */
export const WRITER_OBJECT_ACTIONS = ["s3:PutObject", "s3:PutObjectRetention"] as const;

export { DESTRUCTIVE_ACTIONS };

/** The writer identity's policy: put evidence with the vault key, never delete or weaken. */
export function writerPolicy(bucketArn: string, keyArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PutEvidence",
        Effect: "Allow",
        Action: [...WRITER_OBJECT_ACTIONS],
        Resource: `${bucketArn}/*`,
      },
      {
        Sid: "EncryptWithTheVaultKey",
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Encrypt"],
        Resource: keyArn,
      },
      {
        Sid: "NeverDeleteOrWeaken",
        Effect: "Deny",
        Action: [...DESTRUCTIVE_ACTIONS],
        Resource: [bucketArn, `${bucketArn}/*`],
      },
    ],
  };
}

/** The vault's bucket policy: TLS only, and no object or version delete by anyone. */
export function vaultBucketPolicy(bucketArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      denyInsecureTransport(bucketArn),
      {
        Sid: "DenyEvidenceDeletes",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
        Resource: `${bucketArn}/*`,
      },
    ],
  };
}

/** The access-log bucket's policy: TLS only; S3 log delivery may write, for our bucket only. */
export function accessLogBucketPolicy(
  logBucketArn: string,
  sourceBucketArn: string,
  accountId: string,
): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      denyInsecureTransport(logBucketArn),
      {
        Sid: "S3ServerAccessLogs",
        Effect: "Allow",
        Principal: { Service: "logging.s3.amazonaws.com" },
        Action: "s3:PutObject",
        Resource: `${logBucketArn}/*`,
        Condition: {
          ArnLike: { "aws:SourceArn": sourceBucketArn },
          StringEquals: { "aws:SourceAccount": accountId },
        },
      },
    ],
  };
}

function denyInsecureTransport(bucketArn: string): PolicyStatement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { "aws:SecureTransport": false } },
  };
}
