import { allToggles, type Baseline, type DriftCheckId } from "#catalog";
import type { Host } from "../ports.ts";
import type { CheckContext } from "./contract.ts";

/** Tool output above this is refused rather than parsed partially. */
export const MAX_TOOL_OUTPUT = 4 * 1024 * 1024;

export type ToolRun =
  | { readonly ok: true; readonly code: number; readonly stdout: string; readonly stderr: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Runs one tool for a check. Everything that is not a complete answer (missing program, timeout,
 * abort, truncated output) is a reason the check could not see; the exit code is the caller's.
 */
export async function runTool(
  host: Host,
  context: CheckContext,
  argv: readonly [string, ...string[]],
  maxOutputBytes = MAX_TOOL_OUTPUT,
): Promise<ToolRun> {
  const result = await host.exec({
    argv,
    timeoutMs: context.toolTimeoutMs,
    maxOutputBytes,
    signal: context.signal,
  });
  const what = argv.slice(0, 3).join(" ");
  switch (result.kind) {
    case "not_found":
      return { ok: false, reason: `${argv[0]} is not installed (not_found)` };
    case "timed_out":
      return { ok: false, reason: `${what} timed out after ${context.toolTimeoutMs} ms` };
    case "failed":
      return { ok: false, reason: `${what} failed: ${result.message}` };
    case "exited":
      if (result.truncated) {
        return { ok: false, reason: `${what} printed more than ${maxOutputBytes} bytes` };
      }
      return { ok: true, code: result.code, stdout: result.stdout, stderr: result.stderr };
  }
}

/** The first line of a tool's stderr, short, for a reason (tool messages, never log lines). */
export const firstLine = (text: string) =>
  (text.split("\n").find((l) => l.trim()) ?? "").slice(0, 200);

/** A baseline toggle's value by id; undefined when the baseline has no such toggle. */
export function toggleValue(baseline: Baseline, id: string): unknown {
  return allToggles(baseline).find((t) => t.id === id)?.value;
}

export function numericToggle(baseline: Baseline, id: string): number | undefined {
  const v = toggleValue(baseline, id);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** The toggles that name `check` (and, if given, `finding`): their citations and severities. */
export function togglesOf(baseline: Baseline, check: DriftCheckId, finding?: string) {
  return allToggles(baseline).filter(
    (t) => t.check.id === check && (finding === undefined || t.check.finding === finding),
  );
}

/** "2G", "512M", "1.5T" (systemd's size suffixes, base 1024) in bytes; undefined if malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTPE]?)i?B?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = "BKMGTPE".indexOf((m[2] || "B").toUpperCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** Date.parse for RFC 3339 with up to nanosecond fractions (restic prints nine digits). */
export function parseTime(text: unknown): number | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${(m[2] ?? "").slice(0, 4)}${m[3]}`);
  return Number.isNaN(ms) ? undefined : ms;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** For reports only; decisions compare the exact value. */
export const tenths = (value: number) => Math.round(value * 10) / 10;
