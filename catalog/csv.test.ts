import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv.ts";

describe("parseCsv", () => {
  it("reads quoted fields with commas, quotes and line breaks, and knows where each starts", () => {
    const result = parseCsv('a,b,c\n1,"x, ""y""",3\r\n\n"multi\nline",,z\n');
    expect(result).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ["a", "b", "c"], columns: [1, 3, 5] },
        { line: 2, fields: ["1", 'x, "y"', "3"], columns: [1, 3, 14] },
        { line: 4, fields: ["multi\nline", "", "z"], columns: [1, 7, 8] },
      ],
    });
  });

  it("handles a file without a final newline and a lone carriage return", () => {
    const result = parseCsv("a,b\rc,d");
    expect(result.ok && result.records.map((r) => r.fields)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });

  it.each([
    ['a,"open\n', 1, 3, "unclosed quote"],
    ['a,"x"y\n', 1, 6, "text after a closing quote"],
    ['a,b"c\n', 1, 4, "quote inside an unquoted field"],
  ])("rejects %j at %i:%i", (text, line, column, message) => {
    expect(parseCsv(text)).toEqual({ ok: false, line, column, message });
  });
});
