import type { Block } from "./document.ts";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The packet as Markdown: the chart becomes a table of the same figures. */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.kind === "title") out.push(`# ${b.text}`, "");
    else if (b.kind === "heading") out.push(`## ${b.text}`, "");
    else if (b.kind === "para") out.push(b.text, "");
    else if (b.kind === "chart") {
      out.push("| Check | Pass rate | Passed/runs |", "|---|---|---|");
      for (const bar of b.bars) out.push(`| ${cell(bar.label)} | ${bar.percent}% | ${bar.note} |`);
      out.push("");
    } else if (b.rows.length === 0) out.push("_None this month._", "");
    else {
      out.push(
        `| ${b.columns.map(cell).join(" | ")} |`,
        `|${b.columns.map(() => "---").join("|")}|`,
      );
      for (const row of b.rows) out.push(`| ${row.map(cell).join(" | ")} |`);
      out.push("");
    }
  }
  return `${out.join("\n").trimEnd()}\n`;
}
