import { z } from "zod";
import { CheckId, RunbookId } from "#protocol";
import { Citation, parseCitation, SAFEGUARDS } from "./citation.ts";
import { parseCsv } from "./csv.ts";
import type { Problem } from "./errors.ts";
import { EvidenceType } from "./evidence-types.ts";
import { NixOptionPath, Requirement, Text, ToggleId, uniqueArray } from "./shared-schemas.ts";
import { issueProblems, type Path, problemAt, type Source } from "./source.ts";

export const CONTROLS_MAP_COLUMNS = [
  "citation",
  "safeguard",
  "kind",
  "standard",
  "title",
  "requirement",
  "coverage",
  "toggles",
  "nixos_options",
  "checks",
  "runbooks",
  "evidence_types",
  "rationale",
] as const;

/** Columns that hold several ids, separated by semicolons. */
const LIST_COLUMNS = ["toggles", "nixos_options", "checks", "runbooks", "evidence_types"] as const;

export const Coverage = z.enum(["covered", "partial", "out_of_scope"]);
export type Coverage = z.infer<typeof Coverage>;

export const ControlsMapRow = z
  .strictObject({
    citation: Citation,
    safeguard: z.enum(["administrative", "physical", "technical", "documentation"]),
    kind: z.enum(["standard", "implementation_specification"]),
    /** For an implementation specification, the citation of its standard; empty for a standard. */
    standard: z.union([z.literal(""), Citation]),
    title: Text(3, 120),
    /** Standards are always mandatory (164.306(c)); R/A applies to specifications (164.306(d)). */
    requirement: Requirement,
    coverage: Coverage,
    toggles: uniqueArray(ToggleId),
    nixos_options: uniqueArray(NixOptionPath),
    checks: uniqueArray(CheckId),
    runbooks: uniqueArray(RunbookId),
    evidence_types: uniqueArray(EvidenceType),
    /** Why this coverage, honestly: what the appliance does and what stays with people. */
    rationale: Text(20, 1000),
  })
  .superRefine((row, ctx) => {
    const cited = parseCitation(row.citation);
    if (cited === null) return;
    const family = (SAFEGUARDS as Record<string, string>)[cited.section];
    if (family === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["citation"],
        message: "the map covers only 164.308, 164.310, 164.312 and 164.316",
      });
    } else if (row.safeguard !== family) {
      ctx.addIssue({
        code: "custom",
        path: ["safeguard"],
        message: `${cited.section} is ${family}`,
      });
    }
    if (row.kind === "standard" && row.standard !== "") {
      ctx.addIssue({
        code: "custom",
        path: ["standard"],
        message: "leave empty on a standard row",
      });
    }
    if (row.kind === "implementation_specification") {
      const parent = row.standard === "" ? null : parseCitation(row.standard);
      const sameBranch =
        parent !== null &&
        parent.section === cited.section &&
        parent.paragraphs[0] === cited.paragraphs[0] &&
        row.standard !== row.citation;
      if (!sameBranch) {
        ctx.addIssue({
          code: "custom",
          path: ["standard"],
          message: "name the standard this specification belongs to, in the same paragraph",
        });
      }
    }
    const refs = LIST_COLUMNS.filter((column) => row[column].length > 0);
    if (row.coverage === "out_of_scope" && refs.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: [refs[0] as string],
        message: "an out_of_scope row names nothing that covers it; call it partial instead",
      });
    }
  });
export type ControlsMapRow = z.infer<typeof ControlsMapRow>;

export interface ControlsMapFile {
  readonly source: Source;
  /** Undefined when any row failed, so nothing half-read is cross-checked. */
  readonly rows: readonly ControlsMapRow[] | undefined;
  readonly problems: readonly Problem[];
}

/** Reads baseline/controls-map.csv: one row per standard and implementation specification. */
export function readControlsMap(file: string, text: string): ControlsMapFile {
  const parsed = parseCsv(text);
  const records = parsed.ok ? parsed.records : [];
  const source: Source = {
    file,
    field: (path: Path) => (path.length > 1 ? String(path[1]) : ""),
    locate(path: Path) {
      const record = records[Number(path[0] ?? -1) + 1];
      if (record === undefined) return { line: 1, column: 1 };
      const at = CONTROLS_MAP_COLUMNS.indexOf(path[1] as (typeof CONTROLS_MAP_COLUMNS)[number]);
      return { line: record.line, column: record.columns[at] ?? 1 };
    },
  };
  const fail = (line: number, column: number, message: string): ControlsMapFile => ({
    source,
    rows: undefined,
    problems: [{ code: "csv_syntax", file, line, column, field: "", message }],
  });
  if (!parsed.ok) return fail(parsed.line, parsed.column, parsed.message);
  const [header, ...body] = records;
  if (header === undefined || header.fields.join(",") !== CONTROLS_MAP_COLUMNS.join(",")) {
    return fail(header?.line ?? 1, 1, `the header must be: ${CONTROLS_MAP_COLUMNS.join(",")}`);
  }

  const problems: Problem[] = [];
  const rows: ControlsMapRow[] = [];
  body.forEach((record, index) => {
    if (record.fields.length !== CONTROLS_MAP_COLUMNS.length) {
      const message = `has ${record.fields.length} fields, the header has ${CONTROLS_MAP_COLUMNS.length}`;
      problems.push({ code: "csv_syntax", file, line: record.line, column: 1, field: "", message });
      return;
    }
    const raw = Object.fromEntries(
      CONTROLS_MAP_COLUMNS.map((column, at) => {
        const cell = (record.fields[at] ?? "").trim();
        const list = (LIST_COLUMNS as readonly string[]).includes(column);
        return [column, list ? splitList(cell) : cell];
      }),
    );
    const result = ControlsMapRow.safeParse(raw);
    if (result.success) rows.push(result.data);
    else
      problems.push(
        ...issueProblems(
          source,
          result.error.issues.map((i) => ({ ...i, path: [index, ...i.path] })),
        ),
      );
  });
  if (problems.length === 0) problems.push(...structureProblems(source, rows));
  return { source, rows: problems.length === 0 ? rows : undefined, problems };
}

function splitList(cell: string): string[] {
  return cell === "" ? [] : cell.split(";").map((part) => part.trim());
}

/** Rules across rows: unique citations, real parents, and standards that claim coverage earn it. */
function structureProblems(source: Source, rows: readonly ControlsMapRow[]): Problem[] {
  const problems: Problem[] = [];
  const standards = new Map<string, number>();
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    if (seen.has(row.citation)) {
      problems.push(
        problemAt(source, [index, "citation"], "duplicate_id", `${row.citation} has two rows`),
      );
    }
    seen.add(row.citation);
    if (row.kind === "standard") standards.set(row.citation, index);
  });
  rows.forEach((row, index) => {
    if (row.kind === "implementation_specification" && !standards.has(row.standard)) {
      const message = `${row.standard} is not a standard row of this map`;
      problems.push(problemAt(source, [index, "standard"], "schema", message));
    }
    const claims = row.coverage !== "out_of_scope";
    const namesSomething = LIST_COLUMNS.some((column) => row[column].length > 0);
    const childCovers = rows.some(
      (r) => r.standard === row.citation && r.coverage !== "out_of_scope",
    );
    if (claims && !namesSomething && !(row.kind === "standard" && childCovers)) {
      const message = `${row.citation} claims ${row.coverage} coverage but names no toggle, runbook or evidence`;
      problems.push(
        problemAt(
          source,
          [index, "coverage"],
          "schema",
          message,
          "name what covers it or mark it out_of_scope",
        ),
      );
    }
  });
  return problems;
}
