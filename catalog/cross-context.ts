import type { Baseline, Toggle } from "./baseline-schema.ts";
import type { ControlsMapRow } from "./controls-map.ts";
import type { Problem, ProblemCode } from "./errors.ts";
import type { ClientExceptions } from "./exceptions-schema.ts";
import type { Parsed } from "./read-files.ts";
import type { Runbook } from "./runbook-schema.ts";
import { type Path, problemAt, type Source } from "./source.ts";

export interface TogglePlace {
  readonly toggle: Toggle;
  readonly path: Path;
}

/** Everything phase two needs: the parsed files, indexed, and a place to put problems. */
export interface CrossContext {
  readonly baseline: Parsed<Baseline>;
  readonly controlsMap: Parsed<readonly ControlsMapRow[]>;
  readonly runbookFiles: readonly Parsed<Runbook>[];
  readonly exceptionFiles: readonly Parsed<ClientExceptions>[];
  /** First occurrence of each id; duplicates are reported, not indexed. */
  readonly toggles: ReadonlyMap<string, TogglePlace>;
  readonly runbooks: ReadonlyMap<string, Parsed<Runbook>>;
  readonly rows: ReadonlyMap<string, { readonly row: ControlsMapRow; readonly index: number }>;
  report(source: Source, path: Path, code: ProblemCode, message: string, hint?: string): void;
  readonly problems: Problem[];
}

export function crossContext(
  baseline: Parsed<Baseline>,
  controlsMap: Parsed<readonly ControlsMapRow[]>,
  runbookFiles: readonly Parsed<Runbook>[],
  exceptionFiles: readonly Parsed<ClientExceptions>[],
): CrossContext {
  const problems: Problem[] = [];
  const report = (
    source: Source,
    path: Path,
    code: ProblemCode,
    message: string,
    hint?: string,
  ) => {
    problems.push(problemAt(source, path, code, message, hint));
  };

  const toggles = new Map<string, TogglePlace>();
  const areas = new Set<string>();
  baseline.value.areas.forEach((area, a) => {
    if (areas.has(area.id)) {
      report(baseline.source, ["areas", a, "id"], "duplicate_id", `area ${area.id} appears twice`);
    }
    areas.add(area.id);
    area.toggles.forEach((toggle, t) => {
      const path = ["areas", a, "toggles", t];
      const first = toggles.get(toggle.id);
      if (first === undefined) toggles.set(toggle.id, { toggle, path });
      else {
        const line = baseline.source.locate(first.path).line;
        const message = `toggle ${toggle.id} is already defined on line ${line}`;
        report(
          baseline.source,
          [...path, "id"],
          "duplicate_id",
          message,
          "give each toggle its own id",
        );
      }
    });
  });
  const patterns = new Set<string>();
  baseline.value.allowed_units.forEach((unit, u) => {
    if (patterns.has(unit.pattern)) {
      const message = `unit pattern ${unit.pattern} appears twice`;
      report(baseline.source, ["allowed_units", u, "pattern"], "duplicate_id", message);
    }
    patterns.add(unit.pattern);
  });

  const runbooks = new Map<string, Parsed<Runbook>>();
  for (const runbook of runbookFiles) {
    const first = runbooks.get(runbook.value.id);
    if (first === undefined) runbooks.set(runbook.value.id, runbook);
    else {
      const message = `runbook ${runbook.value.id} is already defined in ${first.source.file}`;
      report(runbook.source, ["id"], "duplicate_id", message);
    }
  }

  const rows = new Map(controlsMap.value.map((row, index) => [row.citation, { row, index }]));
  return {
    baseline,
    controlsMap,
    runbookFiles,
    exceptionFiles,
    toggles,
    runbooks,
    rows,
    report,
    problems,
  };
}
