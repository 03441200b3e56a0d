// The pack owns this list (it must load on its own when `pulumi policy publish` uploads the
// folder); the evidence vault's writer policy denies the same actions.
/**
 * Actions that delete evidence or weaken its protection. No writer may hold them; the bucket
 * policy denies the object deletes to everyone. (COMPLIANCE mode already forbids deleting a
 * locked version or shortening its retention, even for the account root; these denies also
 * stop delete markers and any change of the bucket's protection by the writer.)
 */
export const DESTRUCTIVE_ACTIONS = [
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:DeleteObjectTagging",
  "s3:DeleteObjectVersionTagging",
  "s3:BypassGovernanceRetention",
  "s3:PutObjectLegalHold",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutBucketVersioning",
  "s3:PutLifecycleConfiguration",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutEncryptionConfiguration",
  "s3:PutBucketPublicAccessBlock",
  "s3:DeleteBucket",
] as const;
