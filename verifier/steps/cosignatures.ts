import {
  canonicalize,
  type ExportCosignature,
  ExportCosignature as ExportCosignatureSchema,
  type ExportManifest,
  type VerificationKey,
  verifyCosignature,
} from "../../protocol/index.ts";
import { failed, parseExportJson, passed, type StepResult } from "../result.ts";
import type { Bundles } from "./bundles.ts";

/** A cosignature line of cosignatures.jsonl that verified with the appliance key. */
export interface StoredCosignatureLine extends ExportCosignature {
  readonly line: number;
}

/**
 * Step 5b: cosignatures.jsonl, the appliance's witness cosignatures as the control plane stored
 * them. Each line is canonical JSON, names a checkpoint the export's bundles determine
 * (first_seq - 1 .. last_seq) and a later carrying bundle, and verifies with the appliance key
 * (C2SP cosignature/v1). A carrying bundle inside the export must hold exactly that line, and
 * every cosignature a bundle of the export carries must be listed: the control plane kept them
 * all. Roots are compared with the log in step 6.
 */
export function verifyStoredCosignatures(
  text: string,
  file: string,
  manifest: ExportManifest,
  key: VerificationKey,
  bundles: Bundles,
): StepResult<readonly StoredCosignatureLine[]> {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const lowest = Math.max(1, manifest.first_seq - 1);
  const out: StoredCosignatureLine[] = [];
  const bySeq = new Map<number, StoredCosignatureLine>();
  for (const [j, line] of lines.entries()) {
    const at = { file, line: j + 1 };
    const parsed = parseExportJson(ExportCosignatureSchema, line, "cosignature_malformed", at);
    if (!parsed.ok) return parsed;
    const c = parsed.value;
    if (canonicalize(c) !== line) {
      return failed({ ...at, reason: "cosignature_malformed", detail: "not canonical JSON" });
    }
    const previous = out.at(-1);
    if (c.tree_size < lowest || c.tree_size > manifest.last_seq || c.seq <= c.tree_size) {
      return failed({
        ...at,
        reason: "cosignature_malformed",
        detail: `checkpoint ${c.tree_size} cosigned in bundle ${c.seq}: outside the export or not after it`,
      });
    }
    if (previous && c.seq <= previous.seq) {
      return failed({ ...at, reason: "cosignature_malformed", detail: "lines out of chain order" });
    }
    const verdict = verifyCosignature(
      { tenant_id: manifest.tenant_id, appliance_id: manifest.appliance_id, ...c },
      c.cosignature,
      key.publicKey,
    );
    if (!verdict.ok) {
      return failed({ ...at, reason: "cosignature_bad_signature", detail: verdict.detail });
    }
    const entry = { ...c, line: j + 1 };
    out.push(entry);
    bySeq.set(c.seq, entry);
  }
  // Both ways against the bundles of the export that carry a cosignature.
  for (const s of bundles.seen) {
    const seq = bundles.seqs[s.index] as number;
    if (s.cosignature === undefined || s.treeSize < lowest) continue;
    const stored = bySeq.get(seq);
    bySeq.delete(seq);
    if (stored?.cosignature !== s.cosignature || stored.tree_size !== s.treeSize) {
      return failed({
        file,
        ...(stored ? { line: stored.line } : {}),
        seq,
        reason: "cosignature_mismatch",
        detail: stored
          ? `differs from the cosignature in bundle ${seq}`
          : `the cosignature in bundle ${seq} is not listed: the control plane did not keep it`,
      });
    }
  }
  for (const stored of bySeq.values()) {
    if (stored.seq >= manifest.first_seq && stored.seq <= manifest.last_seq) {
      return failed({
        file,
        line: stored.line,
        seq: stored.seq,
        reason: "cosignature_mismatch",
        detail: `bundle ${stored.seq} of the export carries no such cosignature`,
      });
    }
  }
  return passed(out);
}
