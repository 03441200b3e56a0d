import type { z } from "zod";
import { tryParseMessage } from "../protocol/index.ts";
import type { BundleStatus } from "./bundle-check.ts";

/**
 * What every step of the export verifier returns: its value, or the first failure it found.
 * Failures are expected outcomes (a tampered export), so they are results, never exceptions;
 * an exception means broken infrastructure (a worker thread that died).
 */
export type ExportFailureReason =
  | "missing_file"
  | "manifest_malformed"
  | "manifest_bad_signature"
  | "key_mismatch"
  | "pin_mismatch"
  | "unpinned"
  | BundleStatus
  | "not_canonical"
  | "duplicate"
  | "fork"
  | "reorder"
  | "sequence_gap"
  | "wrong_prev_hash"
  | "truncated"
  | "beyond_manifest"
  | "count_mismatch"
  | "enrollment_statement_missing"
  | "checkpoint_malformed"
  | "checkpoint_bad_signature"
  | "checkpoint_wrong_appliance"
  | "checkpoint_out_of_range"
  | "checkpoint_inconsistent"
  | "checkpoint_head_not_included"
  | "checkpoint_root_mismatch"
  | "split_view"
  | "appliance_refused_checkpoint"
  | "cosignature_malformed"
  | "cosignature_bad_signature"
  | "cosignature_mismatch"
  | "worm_list_malformed"
  | "worm_list_bad_signature"
  | "worm_mismatch"
  | "not_archived";

export interface ExportFailure {
  readonly reason: ExportFailureReason;
  readonly detail: string;
  readonly file: string;
  /** 1-based line in `file`, where the failure is one line. */
  readonly line?: number;
  readonly seq?: number;
}

export type StepResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly failure: ExportFailure };

export const passed = <T>(value: T): StepResult<T> => ({ ok: true, value });
export const failed = (failure: ExportFailure): { ok: false; failure: ExportFailure } => ({
  ok: false,
  failure,
});

/**
 * One JSON document of an export (a whole file, or one line of a JSON Lines file) read against
 * its schema: not JSON, or not fitting the schema, fails with `reason` at `where`.
 */
export function parseExportJson<S extends z.ZodType>(
  schema: S,
  text: string,
  reason: ExportFailureReason,
  where: { readonly file: string; readonly line?: number },
): StepResult<z.infer<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return failed({ ...where, reason, detail: "not JSON" });
  }
  const parsed = tryParseMessage(schema, raw);
  return parsed.ok ? passed(parsed.value) : failed({ ...where, reason, detail: parsed.problem });
}
