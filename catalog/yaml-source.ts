import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { Problem } from "./errors.ts";
import { dottedPath, type Path, type Position, type Source } from "./source.ts";

export interface YamlFile {
  readonly source: Source;
  /** The plain data, or undefined when the text is not valid YAML. */
  readonly data: unknown;
  readonly problems: readonly Problem[];
}

/**
 * Parses YAML 1.2 (core schema: `2026-11-25` stays a string) and keeps the node tree, so any
 * path can be mapped back to the line where it was written. Duplicate keys are errors.
 */
export function readYaml(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const position = (offset: number | undefined): Position => {
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const source: Source = {
    file,
    field: dottedPath,
    locate(path: Path): Position {
      let node: unknown = doc.contents;
      let offset: number | undefined = (doc.contents as Node | null)?.range?.[0];
      for (const key of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && scalarKey(p.key) === String(key));
          if (pair === undefined) break;
          offset = (pair.key as Node | null)?.range?.[0] ?? offset;
          node = pair.value;
        } else if (isSeq(node) && typeof key === "number") {
          const item = node.items[key] as Node | undefined;
          if (item === undefined) break;
          offset = item.range?.[0] ?? offset;
          node = item;
        } else {
          break;
        }
      }
      return position(offset);
    },
  };

  const problems: Problem[] = doc.errors.map((error) => {
    const at = error.linePos?.[0] ?? { line: 1, col: 1 };
    return {
      code: "yaml_syntax",
      file,
      line: at.line,
      column: at.col,
      field: "",
      message: error.message.split("\n")[0] ?? error.message,
    };
  });
  return { source, data: problems.length > 0 ? undefined : doc.toJS(), problems };
}

function scalarKey(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}
