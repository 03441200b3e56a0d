import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { TenantId } from "#protocol";
import { ComponentArgsError } from "../errors.ts";
import { bucketPrefix, writerUserName } from "./names.ts";
import {
  accessLogBucketPolicy,
  vaultBucketPolicy,
  vaultKeyPolicy,
  writerPolicy,
} from "./policies.ts";

export interface EvidenceVaultArgs {
  readonly tenantId: string;
  /** Default retention in COMPLIANCE mode, at least 2192 days (six years with leap days). */
  readonly retentionDays: number;
  /** Days until evidence moves to Glacier Instant Retrieval (still readable in milliseconds). */
  readonly coldStorageAfterDays?: number;
}

const Args = z.strictObject({
  tenantId: TenantId,
  retentionDays: z.int().min(2192, "at least 2192 days (six years)").max(36_500),
  coldStorageAfterDays: z.int().min(30).max(2191).default(90),
});

export function validateEvidenceVaultArgs(args: EvidenceVaultArgs) {
  const parsed = Args.safeParse(args);
  if (!parsed.success) throw ComponentArgsError.fromZod("EvidenceVault", parsed.error);
  return parsed.data;
}

/**
 * Objects under 128 KiB never move to colder storage (S3's default since 2024, stated here so
 * it does not change under us): Glacier IR bills at least 128 KiB per object, so the small
 * evidence records stay in Standard and only exports, bundles and reports move.
 */
const SMALL_OBJECTS_STAY = "all_storage_classes_128K";

const json = (doc: pulumi.Output<object>): pulumi.Output<string> =>
  doc.apply((d) => JSON.stringify(d));

/**
 * The client's WORM evidence store (45 CFR 164.316(b)(2)(i): six years): an S3 bucket created
 * with Object Lock, versioning, a default COMPLIANCE retention nobody can shorten, SSE-KMS with
 * a rotating key, all public access blocked, TLS-only and no-delete bucket policy, server
 * access logs in a separate bucket (an Object Lock bucket cannot be a log target), and a
 * lifecycle move to colder storage. The writer identity may only put objects and set their
 * retention; its access key is a secret output for the control plane.
 */
export class EvidenceVault extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  public readonly logBucketName: pulumi.Output<string>;
  public readonly kmsKeyArn: pulumi.Output<string>;
  public readonly retentionDays: pulumi.Output<number>;
  public readonly writerArn: pulumi.Output<string>;
  public readonly writerAccessKeyId: pulumi.Output<string>;
  public readonly writerSecretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: EvidenceVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super("msp:tenant:EvidenceVault", name, {}, opts);
    const a = validateEvidenceVaultArgs(args);
    const parent = { parent: this };
    // What holds evidence outlives any `pulumi destroy` or replacement: the engine refuses to
    // delete a protected resource, and a retained one is only dropped from the state.
    const kept = { parent: this, protect: true, retainOnDelete: true };
    const tags = { "msp:tenant": a.tenantId, "msp:purpose": "hipaa-evidence" };
    const account = aws.getCallerIdentityOutput({}, { parent: this });

    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `Evidence vault of ${a.tenantId}`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: json(
          account.apply((id) => vaultKeyPolicy(id.arn.split(":")[1] ?? "aws", id.accountId)),
        ),
        tags,
      },
      kept,
    );

    // Access logs: a plain bucket (SSE-S3, which log delivery requires), public access blocked.
    const logs = new aws.s3.Bucket(
      `${name}-access-logs`,
      {
        bucketPrefix: bucketPrefix(a.tenantId, "logs"),
        tags: { ...tags, "msp:purpose": "evidence-access-logs" },
      },
      kept,
    );
    const logsPab = new aws.s3.BucketPublicAccessBlock(
      `${name}-access-logs`,
      blockAll(logs.id),
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
      },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        transitionDefaultMinimumObjectSize: SMALL_OBJECTS_STAY,
        rules: [
          {
            id: "colder-storage",
            status: "Enabled",
            filter: {},
            transitions: [{ days: a.coldStorageAfterDays, storageClass: "GLACIER_IR" }],
          },
        ],
      },
      parent,
    );

    const bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      // Object Lock can only be enabled when the bucket is created (changing it replaces it).
      {
        bucketPrefix: bucketPrefix(a.tenantId, "evidence"),
        objectLockEnabled: true,
        forceDestroy: false,
        tags,
      },
      kept,
    );
    const pab = new aws.s3.BucketPublicAccessBlock(`${name}-bucket`, blockAll(bucket.id), parent);
    new aws.s3.BucketOwnershipControls(
      `${name}-bucket`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-bucket`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      parent,
    );
    new aws.s3.BucketObjectLockConfiguration(
      `${name}-bucket`,
      {
        bucket: bucket.id,
        objectLockEnabled: "Enabled",
        // days, not years: 2192 days is six years whatever the leap days.
        rule: { defaultRetention: { mode: "COMPLIANCE", days: a.retentionDays } },
      },
      { parent: this, dependsOn: [versioning] },
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-bucket`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: {
              sseAlgorithm: "aws:kms",
              kmsMasterKeyId: key.arn,
            },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketLogging(
      `${name}-bucket`,
      { bucket: bucket.id, targetBucket: logs.id, targetPrefix: "evidence/" },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-bucket`,
      {
        bucket: bucket.id,
        transitionDefaultMinimumObjectSize: SMALL_OBJECTS_STAY,
        rules: [
          {
            id: "colder-storage",
            status: "Enabled",
            filter: {},
            transitions: [{ days: a.coldStorageAfterDays, storageClass: "GLACIER_IR" }],
            noncurrentVersionTransitions: [
              { noncurrentDays: a.coldStorageAfterDays, storageClass: "GLACIER_IR" },
            ],
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
          },
        ],
      },
      { parent: this, dependsOn: [versioning] },
    );
    new aws.s3.BucketPolicy(
      `${name}-bucket`,
      { bucket: bucket.id, policy: json(bucket.arn.apply(vaultBucketPolicy)) },
      { parent: this, dependsOn: [pab] },
    );
    new aws.s3.BucketPolicy(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        policy: json(
          pulumi
            .all([logs.arn, bucket.arn, account.accountId])
            .apply(([logArn, bucketArn, accountId]) =>
              accessLogBucketPolicy(logArn, bucketArn, accountId),
            ),
        ),
      },
      { parent: this, dependsOn: [logsPab] },
    );

    const writer = new aws.iam.User(
      `${name}-writer`,
      {
        name: writerUserName(`${name}-writer`, a.tenantId),
        path: "/msp/evidence-writers/",
        tags: { ...tags, "msp:role": "evidence-writer" },
      },
      parent,
    );
    new aws.iam.UserPolicy(
      `${name}-writer`,
      {
        user: writer.name,
        policy: json(pulumi.all([bucket.arn, key.arn]).apply(([b, k]) => writerPolicy(b, k))),
      },
      parent,
    );
    const accessKey = new aws.iam.AccessKey(
      `${name}-writer`,
      { user: writer.name },
      {
        parent: this,
        additionalSecretOutputs: ["secret"],
      },
    );

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.logBucketName = logs.bucket;
    this.kmsKeyArn = key.arn;
    this.retentionDays = pulumi.output(a.retentionDays);
    this.writerArn = writer.arn;
    this.writerAccessKeyId = accessKey.id;
    this.writerSecretAccessKey = pulumi.secret(accessKey.secret);
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      logBucketName: this.logBucketName,
      kmsKeyArn: this.kmsKeyArn,
      retentionDays: this.retentionDays,
      writerArn: this.writerArn,
      writerAccessKeyId: this.writerAccessKeyId,
      writerSecretAccessKey: this.writerSecretAccessKey,
    });
  }
}

function blockAll(bucket: pulumi.Input<string>): aws.s3.BucketPublicAccessBlockArgs {
  return {
    bucket,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  };
}
