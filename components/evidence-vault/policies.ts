/**
 * The IAM and bucket policy documents of the evidence vault, as pure functions of ARNs so
 * tests read them as data. The action lists are shared with the policy pack, which enforces
 * the same rule on every identity in a stack.
 */
import { DESTRUCTIVE_ACTIONS } from "../policy-pack/destructive-actions.ts";
import { MIN_RETENTION_DAYS } from "../policy-pack/policies/evidence-buckets.ts";

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

/** The object writes that can carry an explicit retention (mode and retain-until date). */
const RETENTION_WRITES = ["s3:PutObject", "s3:PutObjectRetention"] as const;

/**
 * The vault's bucket policy: TLS only; no object or version delete by anyone; and no write
 * that sets a retention shorter than six years or a mode other than COMPLIANCE (the writer
 * holds s3:PutObjectRetention, and a put may carry its own retention headers). A put without
 * retention headers has neither condition key and gets the bucket's default retention.
 */
export function vaultBucketPolicy(bucketArn: string): PolicyDocument {
  const objects = `${bucketArn}/*`;
  return {
    Version: "2012-10-17",
    Statement: [
      denyInsecureTransport(bucketArn),
      {
        Sid: "DenyEvidenceDeletes",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
        Resource: objects,
      },
      {
        Sid: "DenyRetentionUnderSixYears",
        Effect: "Deny",
        Principal: "*",
        Action: [...RETENTION_WRITES],
        Resource: objects,
        // A numeric condition on a key the request lacks is false: only explicit retentions.
        Condition: {
          NumericLessThan: { "s3:object-lock-remaining-retention-days": MIN_RETENTION_DAYS },
        },
      },
      {
        Sid: "DenyRetentionModeOtherThanCompliance",
        Effect: "Deny",
        Principal: "*",
        Action: [...RETENTION_WRITES],
        Resource: objects,
        // StringNotEquals alone is true when the key is absent; Null false = the key is present.
        Condition: {
          StringNotEquals: { "s3:object-lock-mode": "COMPLIANCE" },
          Null: { "s3:object-lock-mode": "false" },
        },
      },
    ],
  };
}

/**
 * The vault key's policy: the account administers the key through IAM as usual, but nobody
 * (the account root included) may schedule its deletion: evidence locked for six years would
 * become undecryptable. Lifting this takes a deliberate key-policy change, which CloudTrail logs.
 */
export function vaultKeyPolicy(partition: string, accountId: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AccountAdministersTheKey",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "NeverScheduleKeyDeletion",
        Effect: "Deny",
        Principal: "*",
        Action: "kms:ScheduleKeyDeletion",
        Resource: "*",
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
