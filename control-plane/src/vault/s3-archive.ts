import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Archive, ArchivePut } from "./archive.ts";
import { assertObjectKey } from "./keys.ts";

export interface S3ArchiveOptions {
  readonly bucket: string;
  readonly region: string;
  /** Any S3-compatible endpoint with Object Lock; absent: AWS's regional endpoint. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  /** Credentials come from the SDK's default chain (environment, instance role), never config. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * WORM archive on S3 Object Lock: every put carries mode COMPLIANCE, a retain-until date (no
 * one, not even the account root, can shorten it or delete the version before it) and an
 * x-amz-checksum-sha256 header, which S3 verifies and which Object Lock puts require
 * (a Content-MD5 or checksum header). The bucket must have Object Lock and versioning enabled
 * (the tenant's Pulumi stack creates it so).
 */
export function s3Archive(options: S3ArchiveOptions): Archive {
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // We send our own SHA-256 checksum; no SDK-added CRC or streaming trailer.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1, // the outbox retries with its own backoff
  });
  return {
    kind: "s3",
    describe: `s3://${options.bucket}${options.endpoint ? ` at ${new URL(options.endpoint).host}` : ""}`,
    async put(object: ArchivePut, signal?: AbortSignal) {
      assertObjectKey(object.key);
      const result = await client.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: object.key,
          Body: object.body,
          ContentLength: object.body.byteLength,
          ContentType: object.contentType,
          ChecksumSHA256: Buffer.from(object.sha256, "hex").toString("base64"),
          ObjectLockMode: "COMPLIANCE",
          ObjectLockRetainUntilDate: object.retainUntil,
        }),
        signal ? { abortSignal: signal } : {},
      );
      return { versionId: result.VersionId ?? null };
    },
  };
}
