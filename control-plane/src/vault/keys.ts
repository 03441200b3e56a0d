import { ControlPlaneError } from "../errors.ts";

/**
 * Object keys of the evidence vault. One prefix per tenant (the tenant's own bucket in
 * production), then per appliance (a site has one appliance):
 *   <tenant>/<appliance>/evidence/<YYYY-MM-DD>/<HHMMSS>-<first seq>-<last seq>.jsonl
 *   <tenant>/<appliance>/checkpoints/<tree size>.json
 * Sequence numbers are zero-padded to 16 digits so keys sort in order.
 */
const pad = (n: number) => String(n).padStart(16, "0");

export function segmentKey(
  tenantId: string,
  applianceId: string,
  windowStart: Date,
  firstSeq: number,
  lastSeq: number,
): string {
  const iso = windowStart.toISOString();
  const day = iso.slice(0, 10);
  const time = iso.slice(11, 19).replaceAll(":", "");
  return `${tenantId}/${applianceId}/evidence/${day}/${time}-${pad(firstSeq)}-${pad(lastSeq)}.jsonl`;
}

export function checkpointKey(tenantId: string, applianceId: string, treeSize: number): string {
  return `${tenantId}/${applianceId}/checkpoints/${pad(treeSize)}.json`;
}

const KEY =
  /^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62}\/(?:evidence\/\d{4}-\d{2}-\d{2}\/\d{6}-\d{16}-\d{16}\.jsonl|checkpoints\/\d{16}\.json)$/;

/** Keys come only from the two builders above; anything else is refused before any write. */
export function assertObjectKey(key: string): void {
  if (!KEY.test(key))
    throw new ControlPlaneError(
      "vault_integrity",
      `not a vault object key: ${JSON.stringify(key)}`,
    );
}
