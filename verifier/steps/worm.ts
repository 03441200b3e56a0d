import { createHash, type Hash } from "node:crypto";
import {
  canonicalize,
  type ExportManifest,
  SignedWormObjectList,
  sha256Hex,
  type VerificationKey,
  verifyDocument,
  type WormObjectRecord,
} from "../../protocol/index.ts";
import { forEachLine } from "../lines.ts";
import { failed, parseExportJson, passed, type StepResult } from "../result.ts";
import type { VerifiedCheckpointLine } from "./checkpoints.ts";

/** The archive kind of the lab, which is not WORM storage (an unarchived object is a warning). */
export const LAB_ARCHIVE = "local-not-worm";

export interface WormStep {
  readonly matched: number;
  readonly archived: number;
  /** Checkpoints and bundle ranges of the export without an archived WORM object. */
  readonly notArchived: readonly string[];
}

/** Parses and verifies the signed WORM list; read early so segment hashing can overlap step 2. */
export function readWormList(
  text: string,
  file: string,
  manifest: ExportManifest,
  key: VerificationKey,
): StepResult<readonly WormObjectRecord[]> {
  const parsed = parseExportJson(SignedWormObjectList, text, "worm_list_malformed", { file });
  if (!parsed.ok) return parsed;
  const list = parsed.value;
  if (!verifyDocument(list, key)) {
    return failed({
      reason: "worm_list_bad_signature",
      detail: "the WORM object list is not signed by the control-plane key",
      file,
    });
  }
  if (list.tenant_id !== manifest.tenant_id || list.appliance_id !== manifest.appliance_id) {
    return failed({
      reason: "worm_list_malformed",
      detail: `the WORM object list is for ${list.tenant_id}/${list.appliance_id}`,
      file,
    });
  }
  return passed(list.objects);
}

export const segmentsInside = (
  objects: readonly WormObjectRecord[],
  manifest: { first_seq: number; last_seq: number },
) =>
  objects.filter(
    (o) =>
      o.kind === "segment" && o.first_seq >= manifest.first_seq && o.last_seq <= manifest.last_seq,
  );

/**
 * Step 7: WORM anchoring. Every exported checkpoint and every segment inside the export must
 * hash to its archived object's SHA-256 (as signed in the list); every checkpoint and every
 * bundle of the export must lie in an archived object, or it is reported as not archived: a
 * failure for a production archive, a warning for the lab's local directory.
 */
export async function verifyWorm(
  objects: readonly WormObjectRecord[],
  manifest: ExportManifest,
  checkpoints: readonly VerifiedCheckpointLine[],
  digests: Promise<Map<string, string>>,
  files: { bundles: string; bundlesPath: string; worm: string },
): Promise<StepResult<WormStep>> {
  let matched = 0;
  const notArchived: string[] = [];
  const byCheckpoint = new Map(
    objects.filter((o) => o.kind === "checkpoint").map((o) => [o.last_seq, o] as const),
  );
  for (const [j, cp] of checkpoints.entries()) {
    const record = byCheckpoint.get(cp.size);
    if (record?.status !== "archived") notArchived.push(`checkpoint ${cp.size}`);
    if (!record) continue;
    const body = new TextEncoder().encode(`${canonicalize(cp.checkpoint)}\n`);
    if (sha256Hex(body) !== record.sha256) {
      return failed({
        file: files.worm,
        reason: "worm_mismatch",
        detail: `checkpoint on line ${j + 1} differs from WORM object ${record.key}`,
      });
    }
    matched++;
  }
  const known = await digests;
  for (const segment of segmentsInside(objects, manifest)) {
    const digest =
      known.get(segment.key) ??
      (await digestSegments(files.bundlesPath, manifest.first_seq, [segment])).get(segment.key);
    if (digest !== segment.sha256) {
      return failed({
        file: files.worm,
        reason: "worm_mismatch",
        detail: `bundles ${segment.first_seq}..${segment.last_seq} differ from WORM object ${segment.key}`,
      });
    }
    matched++;
  }
  notArchived.push(...uncovered(objects, manifest));
  if (notArchived.length > 0 && manifest.archive !== LAB_ARCHIVE) {
    return failed({
      file: files.worm,
      reason: "not_archived",
      detail: `not archived in ${manifest.archive}: ${notArchived.slice(0, 5).join(", ")}${notArchived.length > 5 ? ", …" : ""}`,
    });
  }
  return passed({
    matched,
    archived: objects.filter((o) => o.status === "archived").length,
    notArchived,
  });
}

/** Bundle ranges of the export that no archived segment covers. */
function uncovered(objects: readonly WormObjectRecord[], manifest: ExportManifest): string[] {
  const segments = objects
    .filter((o) => o.kind === "segment" && o.status === "archived")
    .sort((a, b) => a.first_seq - b.first_seq);
  const gaps: string[] = [];
  let next = manifest.first_seq;
  for (const s of segments) {
    if (s.last_seq < next) continue;
    if (s.first_seq > manifest.last_seq) break;
    if (s.first_seq > next) gaps.push(`bundles ${next}..${s.first_seq - 1}`);
    next = s.last_seq + 1;
  }
  if (next <= manifest.last_seq) gaps.push(`bundles ${next}..${manifest.last_seq}`);
  return gaps;
}

/**
 * SHA-256 of the exported bytes of each segment's range (line n holds seq first_seq + n - 1).
 * Consecutive lines of one read chunk are hashed as one span, so the cost per line is finding its
 * line feed.
 */
export async function digestSegments(
  file: string,
  firstSeq: number,
  segments: readonly WormObjectRecord[],
): Promise<Map<string, string>> {
  const sorted = [...segments].sort((a, b) => a.first_seq - b.first_seq);
  const digests = new Map<string, string>();
  let k = 0;
  let hash: Hash | undefined;
  let seq = firstSeq - 1;
  let span: { buffer: ArrayBufferLike; start: number; end: number } | undefined;
  const flush = () => {
    if (hash && span) hash.update(new Uint8Array(span.buffer, span.start, span.end - span.start));
    span = undefined;
  };
  // Yield once so the caller's bundle check starts before this thread reads the whole file.
  await new Promise((resolve) => setImmediate(resolve));
  forEachLine(
    file,
    0,
    Number.POSITIVE_INFINITY,
    (bytes, terminated) => {
      seq++;
      const segment = sorted[k];
      if (!segment) return;
      if (seq === segment.first_seq) hash = createHash("sha256");
      if (hash) {
        const length = bytes.length + (terminated ? 1 : 0);
        if (span?.buffer === bytes.buffer && span.end === bytes.byteOffset) span.end += length;
        else {
          flush();
          span = { buffer: bytes.buffer, start: bytes.byteOffset, end: bytes.byteOffset + length };
        }
      }
      if (hash && seq === segment.last_seq) {
        flush();
        digests.set(segment.key, hash.digest("hex"));
        hash = undefined;
        k++;
      }
    },
    flush,
  );
  return digests;
}
