import { createHash } from "node:crypto";

/**
 * AWS names derived from a tenant id (1–63 characters), kept within AWS's limits whatever its
 * length. Short ids keep the readable names already deployed (changing a bucket's prefix
 * replaces it); long ones are cut and given 8 hex digits of their SHA-256, so two long ids that
 * share a beginning still get different names.
 */

/** S3 names are at most 63 characters; Pulumi appends 26 (`-`…) to a `bucketPrefix`. */
export const MAX_BUCKET_PREFIX = 37;
/** IAM user names are at most 64 characters. */
export const MAX_IAM_USER_NAME = 64;
/** Pulumi's auto-naming appends `-` and 7 hex digits to the logical name. */
const AUTONAME_SUFFIX = 8;

function shortened(tenantId: string, room: number): string {
  const tag = createHash("sha256").update(tenantId, "utf8").digest("hex").slice(0, 8);
  const cut = tenantId.slice(0, Math.max(0, room - tag.length - 1)).replace(/-+$/, "");
  return cut === "" ? tag : `${cut}-${tag}`;
}

/** `msp-<tenant>-<purpose>-`, or a shortened tenant part when that would exceed 37. */
export function bucketPrefix(tenantId: string, purpose: "evidence" | "logs"): string {
  const plain = `msp-${tenantId}-${purpose}-`;
  if (plain.length <= MAX_BUCKET_PREFIX) return plain;
  const room = MAX_BUCKET_PREFIX - `msp--${purpose}-`.length;
  return `msp-${shortened(tenantId, room)}-${purpose}-`;
}

/**
 * The writer's IAM user name: undefined (Pulumi's auto-name, as deployed so far) while
 * `<logicalName>-xxxxxxx` fits in 64 characters, else an explicit shortened name.
 */
export function writerUserName(logicalName: string, tenantId: string): string | undefined {
  if (logicalName.length + AUTONAME_SUFFIX <= MAX_IAM_USER_NAME) return undefined;
  const prefix = "msp-evidence-writer-";
  return `${prefix}${shortened(tenantId, MAX_IAM_USER_NAME - prefix.length)}`;
}
