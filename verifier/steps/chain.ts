import { type ExportManifest, fromHex, GENESIS_HASH } from "../../protocol/index.ts";
import { failed, passed, type StepResult } from "../result.ts";
import { type Bundles, hashAt } from "./bundles.ts";

/** Whether the 32 bytes at `at` of `a` equal those at `bt` of `b` (no view made per bundle). */
function sameHash(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  let diff = 0;
  for (let k = 0; k < 32; k++) diff |= (a[at + k] as number) ^ (b[bt + k] as number);
  return diff === 0;
}

/**
 * Step 3: the hash chain. Consecutive sequence numbers from the manifest's `first_seq`, each
 * `prev_hash` the hash of the bundle before (genesis for seq 1), nothing beyond `last_seq`,
 * nothing missing at the end, and as many bundles as the signed `bundle_count` says.
 */
export function verifyChain(
  bundles: Bundles,
  manifest: ExportManifest,
  file: string,
): StepResult<{ links: number }> {
  const { seqs, total } = bundles;
  const genesis = fromHex(GENESIS_HASH, "genesis");
  let links = 0;
  for (let i = 0; i < total; i++) {
    const seq = seqs[i] as number;
    const expected = i === 0 ? manifest.first_seq : (seqs[i - 1] as number) + 1;
    const at = { file, line: i + 1, seq };
    if (i > 0 && seq === seqs[i - 1]) {
      const same = Buffer.compare(hashAt(bundles, i), hashAt(bundles, i - 1)) === 0;
      return failed({
        ...at,
        reason: same ? "duplicate" : "fork",
        detail: `seq ${seq} appears twice`,
      });
    }
    if (seq < expected) {
      return failed({
        ...at,
        reason: "reorder",
        detail: `seq ${seq} where seq ${expected} belongs`,
      });
    }
    if (seq > expected) {
      const later = seqs.subarray(i + 1).includes(expected);
      return failed({
        ...at,
        reason: later ? "reorder" : "sequence_gap",
        detail: later ? `seq ${seq} comes before seq ${expected}` : `seq ${expected} is missing`,
      });
    }
    if (seq > manifest.last_seq) {
      return failed({
        ...at,
        reason: "beyond_manifest",
        detail: `the manifest ends at ${manifest.last_seq}`,
      });
    }
    const link = i > 0 ? bundles.hashes : seq === 1 ? genesis : undefined;
    if (link && !sameHash(bundles.prevs, i * 32, link, i > 0 ? (i - 1) * 32 : 0)) {
      return failed({
        ...at,
        reason: "wrong_prev_hash",
        detail: `prev_hash does not match bundle ${seq - 1}`,
      });
    }
    if (i > 0 || seq === 1) links++;
  }
  const lastSeq = total > 0 ? (seqs[total - 1] as number) : manifest.first_seq - 1;
  if (lastSeq < manifest.last_seq) {
    return failed({
      reason: "truncated",
      detail: `bundles end at seq ${lastSeq}; the signed manifest and checkpoint reach ${manifest.last_seq}`,
      file,
    });
  }
  if (total !== manifest.bundle_count) {
    return failed({
      reason: "count_mismatch",
      detail: `${total} bundles; the signed manifest says bundle_count ${manifest.bundle_count}`,
      file,
    });
  }
  return passed({ links });
}

/**
 * Step 4: a chain exported from its start opens with the appliance's enrollment statement,
 * signed by the key it names, naming the control-plane key the appliance pinned at enrollment.
 */
export function verifyEnrollmentStatement(
  bundles: Bundles,
  manifest: ExportManifest,
  file: string,
): StepResult<{ stated: boolean }> {
  if (manifest.first_seq !== 1) return passed({ stated: false });
  const statement = bundles.enrollment;
  if (statement?.index !== 0) {
    return failed({
      reason: "enrollment_statement_missing",
      detail: "bundle 1 is not the appliance's enrollment statement",
      file,
      line: 1,
      seq: 1,
    });
  }
  if (statement.keyId !== manifest.appliance_key_id) {
    return failed({
      reason: "key_mismatch",
      detail: `the enrollment statement names appliance key ${statement.keyId}`,
      file,
      line: 1,
      seq: 1,
    });
  }
  if (statement.cpKeyId !== manifest.control_plane_key_id) {
    return failed({
      reason: "key_mismatch",
      detail: `the appliance pinned control-plane key ${statement.cpKeyId} at enrollment, not the export's`,
      file,
      line: 1,
      seq: 1,
    });
  }
  return passed({ stated: true });
}
