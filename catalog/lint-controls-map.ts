import type { ControlsMapRow } from "./controls-map.ts";
import type { CrossContext } from "./cross-context.ts";
import { isDriftCheckId } from "./drift-checks.ts";
import type { EvidenceType } from "./evidence-types.ts";

const EXPECTED = "the map must say what the YAML says; expected";

/**
 * Phase two: the map names only things that exist, and its toggles and runbooks columns are
 * exactly the toggles and runbooks that cite the row, so the map and the YAML cannot disagree
 * about who covers a HIPAA specification.
 */
export function lintControlsMapReferences(ctx: CrossContext): void {
  const source = ctx.controlsMap.source;
  const togglesCiting = (citation: string) =>
    [...ctx.toggles.values()]
      .filter((t) => t.toggle.citations.includes(citation))
      .map((t) => t.toggle.id);
  const runbooksCiting = (citation: string) =>
    [...ctx.runbooks.values()]
      .filter((r) => r.value.citations.includes(citation))
      .map((r) => r.value.id);

  ctx.controlsMap.value.forEach((row, index) => {
    const at = (column: keyof ControlsMapRow) => [index, column] as const;
    for (const id of row.toggles.filter((t) => !ctx.toggles.has(t))) {
      ctx.report(
        source,
        at("toggles"),
        "dangling_toggle",
        `${row.citation} lists toggle ${id}, which does not exist`,
      );
    }
    for (const id of row.runbooks.filter((r) => !ctx.runbooks.has(r))) {
      ctx.report(
        source,
        at("runbooks"),
        "dangling_runbook",
        `${row.citation} lists runbook ${id}, which does not exist`,
      );
    }
    for (const id of row.checks.filter((c) => !isDriftCheckId(c))) {
      ctx.report(
        source,
        at("checks"),
        "dangling_check",
        `${row.citation} lists unknown drift check "${id}"`,
      );
    }
    // An out_of_scope row lists nothing (phase one); whoever cites it has been told already.
    if (row.coverage === "out_of_scope") return;
    sameSet(
      ctx,
      index,
      "toggles",
      row,
      row.toggles.filter((t) => ctx.toggles.has(t)),
      togglesCiting(row.citation),
    );
    sameSet(
      ctx,
      index,
      "runbooks",
      row,
      row.runbooks.filter((r) => ctx.runbooks.has(r)),
      runbooksCiting(row.citation),
    );
  });
}

/**
 * Phase three, on an otherwise consistent catalog: the checks and NixOS options columns are what
 * the row's toggles and runbooks use, and the evidence column includes what they capture.
 */
export function lintControlsMapDerived(ctx: CrossContext): void {
  ctx.controlsMap.value.forEach((row, index) => {
    const toggles = row.toggles.flatMap((id) => {
      const place = ctx.toggles.get(id);
      return place === undefined ? [] : [place.toggle];
    });
    const runbooks = row.runbooks.flatMap((id) => {
      const runbook = ctx.runbooks.get(id);
      return runbook === undefined ? [] : [runbook.value];
    });
    const checks = [
      ...toggles.map((t) => t.check.id),
      ...runbooks.flatMap((r) => r.triggers.map((t) => t.check)),
    ];
    sameSet(ctx, index, "checks", row, row.checks, checks);
    sameSet(
      ctx,
      index,
      "nixos_options",
      row,
      row.nixos_options,
      toggles.flatMap((t) => t.nixos_options),
    );
    const evidence: EvidenceType[] = [
      ...(toggles.length > 0 ? (["check_result"] as const) : []),
      ...runbooks.flatMap((r) => [...r.evidence, "healing_step" as const]),
    ];
    const missing = [...new Set(evidence)].filter((e) => !row.evidence_types.includes(e)).sort();
    if (missing.length > 0) {
      const message = `${row.citation} misses evidence its toggles and runbooks produce: ${missing.join(", ")}`;
      ctx.report(
        ctx.controlsMap.source,
        [index, "evidence_types"],
        "controls_map_mismatch",
        message,
      );
    }
  });
}

function sameSet(
  ctx: CrossContext,
  index: number,
  column: "toggles" | "runbooks" | "checks" | "nixos_options",
  row: ControlsMapRow,
  listed: readonly string[],
  expected: readonly string[],
): void {
  const want = [...new Set(expected)].sort();
  const missing = want.filter((id) => !listed.includes(id));
  const extra = listed.filter((id) => !want.includes(id));
  if (missing.length === 0 && extra.length === 0) return;
  const parts = [
    missing.length > 0 ? `misses ${missing.join(", ")}` : "",
    extra.length > 0 ? `should not list ${extra.join(", ")}` : "",
  ].filter((part) => part !== "");
  const message = `${row.citation} ${column} ${parts.join(" and ")}`;
  const hint = `${EXPECTED}: ${want.join(";") || "(empty)"}`;
  ctx.report(ctx.controlsMap.source, [index, column], "controls_map_mismatch", message, hint);
}
