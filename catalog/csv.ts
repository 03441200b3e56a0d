/**
 * A small RFC 4180 reader that remembers where each field starts, so a problem in the controls
 * map points at a line and column like a problem in YAML does. Blank lines are skipped.
 */
export interface CsvRecord {
  /** 1-based line where the record starts. */
  readonly line: number;
  readonly fields: readonly string[];
  /** 1-based column where each field starts. */
  readonly columns: readonly number[];
}

export type CsvResult =
  | { readonly ok: true; readonly records: readonly CsvRecord[] }
  | {
      readonly ok: false;
      readonly line: number;
      readonly column: number;
      readonly message: string;
    };

export function parseCsv(text: string): CsvResult {
  const records: CsvRecord[] = [];
  let line = 1;
  let column = 1;
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\n" || text[i] === "\r") {
      i += text.startsWith("\r\n", i) ? 2 : 1;
      line += 1;
      column = 1;
      continue;
    }
    const start = line;
    const fields: string[] = [];
    const columns: number[] = [];
    for (;;) {
      columns.push(column);
      let field = "";
      if (text[i] === '"') {
        const openLine = line;
        const openColumn = column;
        i += 1;
        column += 1;
        for (;;) {
          if (i >= text.length) {
            return { ok: false, line: openLine, column: openColumn, message: "unclosed quote" };
          }
          const ch = text[i] as string;
          if (ch === '"' && text[i + 1] === '"') {
            field += '"';
            i += 2;
            column += 2;
          } else if (ch === '"') {
            i += 1;
            column += 1;
            break;
          } else {
            field += ch;
            i += 1;
            if (ch === "\n") {
              line += 1;
              column = 1;
            } else {
              column += 1;
            }
          }
        }
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          return { ok: false, line, column, message: "text after a closing quote" };
        }
      } else {
        while (i < text.length && !",\n\r".includes(text[i] as string)) {
          if (text[i] === '"') {
            return { ok: false, line, column, message: "quote inside an unquoted field" };
          }
          field += text[i];
          i += 1;
          column += 1;
        }
      }
      fields.push(field);
      if (text[i] === ",") {
        i += 1;
        column += 1;
        continue;
      }
      break;
    }
    records.push({ line: start, fields, columns });
  }
  return { ok: true, records };
}
