import type { z } from "zod";
import { isCitationIssue } from "./citation.ts";
import type { Problem, ProblemCode } from "./errors.ts";
import { SHELL_HINT, SHELL_KEYS } from "./shell.ts";

export type Path = readonly PropertyKey[];
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A parsed file that can say where a path inside it was written. */
export interface Source {
  readonly file: string;
  locate(path: Path): Position;
  /** A field path for messages: `areas[0].toggles[3].check.id`. */
  field(path: Path): string;
}

export function dottedPath(path: Path): string {
  return path
    .map((key, index) =>
      typeof key === "number" ? `[${key}]` : `${index === 0 ? "" : "."}${String(key)}`,
    )
    .join("");
}

export function problemAt(
  source: Source,
  path: Path,
  code: ProblemCode,
  message: string,
  hint?: string,
): Problem {
  const { line, column } = source.locate(path);
  return {
    code,
    file: source.file,
    line,
    column,
    field: source.field(path),
    message,
    ...(hint === undefined ? {} : { hint }),
  };
}

/**
 * zod issues become problems at the line of the offending field. Two issues get their own code
 * because authors need to recognise them at once: a malformed HIPAA citation, and a key such as
 * `run:` or `command:` that can only mean a shell string.
 */
export function issueProblems(source: Source, issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => {
        const path = [...issue.path, key];
        return SHELL_KEYS.has(key)
          ? problemAt(
              source,
              path,
              "shell_string",
              `"${key}" would hold a shell command`,
              SHELL_HINT,
            )
          : problemAt(
              source,
              path,
              "schema",
              `unknown field "${key}"`,
              "remove it or fix its spelling",
            );
      });
    }
    const code: ProblemCode = isCitationIssue(issue) ? "bad_citation" : "schema";
    const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
    const message = missing ? `is missing (expected ${issue.expected})` : issue.message;
    return [problemAt(source, issue.path, code, message)];
  });
}
