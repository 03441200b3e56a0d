/**
 * Where archived objects go: a WORM bucket (S3 Object Lock, COMPLIANCE mode) in production, or a
 * local directory in the lab that is clearly NOT WORM. An archive takes the object's bytes, the
 * hex SHA-256 the outbox recorded when it queued the object, and the retain-until date.
 */
export interface ArchivePut {
  readonly key: string;
  readonly body: Uint8Array;
  readonly sha256: string;
  readonly retainUntil: Date;
  readonly contentType: string;
}

export interface ArchiveReceipt {
  /** The object version the archive created (S3 version id), or null when it has none. */
  readonly versionId: string | null;
}

export interface Archive {
  /** "s3" (Object Lock, WORM) or "local-not-worm". Recorded on every archived object. */
  readonly kind: "s3" | "local-not-worm";
  /** Human-readable target, without credentials (bucket, endpoint or directory). */
  readonly describe: string;
  put(object: ArchivePut, signal?: AbortSignal): Promise<ArchiveReceipt>;
}

/** 45 CFR 164.316(b)(2)(i): six years. 2192 days covers two leap days. */
export const MIN_RETENTION_DAYS = 2192;
