import type { Block } from "./document.ts";

/**
 * Text for Markdown: appliance-provided strings (hostnames, details, notes) must never become
 * markup. HTML-significant characters become entities (a Markdown viewer shows them as text), and
 * the characters that start Markdown constructs inside a line (emphasis, links, code, table
 * pipes) are backslash-escaped; a newline becomes a space so a row stays one row.
 */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/[\\`*[\]|!]/g, (c) => `\\${c}`)
    .replace(/\r?\n|\r/g, " ");
}

const anchor = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .trim()
    .replace(/ /g, "-");

/** The packet as Markdown: the chart becomes a table of the same figures. */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  const e = escapeMarkdown;
  blocks.forEach((b, index) => {
    if (b.kind === "title") out.push(`# ${e(b.text)}`, "");
    else if (b.kind === "heading") out.push(`## ${e(b.text)}`, "");
    else if (b.kind === "para") out.push(e(b.text), "");
    else if (b.kind === "pagebreak") out.push("---", "");
    else if (b.kind === "toc") {
      out.push("**Contents**", "");
      const headings = blocks.slice(index + 1).filter((x) => x.kind === "heading");
      for (const h of headings.slice(0, b.entries))
        out.push(`- [${e(h.text)}](#${anchor(h.text)})`);
      out.push("");
    } else if (b.kind === "chart") {
      out.push("| Check | Pass rate | Passed/runs |", "|---|---|---|");
      for (const bar of b.bars)
        out.push(
          `| ${e(bar.label)} | ${bar.percent === null ? "no data" : `${bar.percent}%`} | ${e(bar.note)} |`,
        );
      out.push("");
    } else if (b.rows.length === 0) out.push(`_${e(b.empty ?? "None in this period.")}_`, "");
    else {
      out.push(`| ${b.columns.map(e).join(" | ")} |`, `|${b.columns.map(() => "---").join("|")}|`);
      for (const row of b.rows) out.push(`| ${row.map(e).join(" | ")} |`);
      out.push("");
    }
  });
  return `${out.join("\n").trimEnd()}\n`;
}
