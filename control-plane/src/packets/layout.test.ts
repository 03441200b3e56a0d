import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { segmentKey } from "../vault/keys.ts";
import type { Block } from "./document.ts";
import { renderMarkdown } from "./render-md.ts";
import { renderPdf } from "./render-pdf.ts";

/**
 * The PDF wraps and never truncates: the longest real values (a segment key of two 63-character
 * ids, a 63-character id, a long citation list, a 500-character detail, non-Latin text) come back
 * whole from pdftotext, on pages that each carry the running header, the mark and their number.
 * Greek, Cyrillic and accented Latin come back as themselves from the embedded DejaVu Sans, in
 * lines that stay inside the page by that font's own widths; only characters the font lacks
 * (CJK) are printed as code points.
 */
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "cp-packet-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const id63 = `a${"b1-".repeat(20)}cd`;
const key = segmentKey(id63, id63, new Date("2026-11-30T23:55:00Z"), 2_591_999, 2_592_000);
const citations =
  "45 CFR 164.308(a)(1)(ii)(D); 45 CFR 164.308(a)(5)(ii)(C); 45 CFR 164.312(b); 45 CFR 164.312(c)(1); 45 CFR 164.312(e)(2)(ii)";
const detail = `${"verification failed after rollback of nftables.service; ".repeat(9)}end`;
const greek = "Οδοντιατρείο Αθηνών";
const cyrillic = "Стоматологическая клиника «Улыбка»";
const accented = "Clínica São João – Zoë Ñúñez-Håkansson, Łódź";
const cjk = "診療所";
const cjkPrinted = "[U+8A3A][U+7642][U+6240]";
const nonLatin = `${greek} ${cyrillic} ${accented} ${cjk}`;
const hebrew = "מרפאה";
const arabic = "عيادة";

it("wraps every long value onto more lines and keeps all of it", async () => {
  expect(id63).toHaveLength(63);
  const blocks: Block[] = [
    { kind: "title", text: `HIPAA compliance packet: ${greek} ${id63}` },
    { kind: "para", text: `${cyrillic} ${accented}` },
    { kind: "toc", entries: 2 },
    { kind: "heading", text: "Archived objects" },
    {
      kind: "table",
      columns: ["Archived object", "Archive", "Version id", "Appliance", "Citations", "Detail"],
      rows: Array.from({ length: 40 }, (_, i) => [
        key,
        "local-not-worm",
        `v-${i}-${"0".repeat(40)}`,
        id63,
        citations,
        `${detail} ${nonLatin}`,
      ]),
    },
    { kind: "heading", text: `After: ${accented}` },
    { kind: "chart", bars: [{ label: "Έλεγχος", percent: 50, note: `${cyrillic}` }] },
    { kind: "para", text: `${hebrew} dental-01 seq 42 ${arabic}` },
    { kind: "para", text: "closing line" },
  ];
  const pdf = await renderPdf(blocks, {
    title: "layout",
    date: new Date(0),
    header: `HIPAA compliance packet | ${cyrillic} | ${id63} | 2026-11`,
    mark: "LAB / NOT WORM",
  });
  const file = join(dir, "layout.pdf");
  writeFileSync(file, pdf);
  const { stdout } = await run("pdftotext", ["-raw", file, "-"]);
  const pages = stdout.split("\f").filter((p) => p.trim());
  expect(pages.length).toBeGreaterThan(3);
  pages.forEach((p, i) => {
    expect(p, `page ${i + 1}`).toContain("LAB / NOT WORM");
    expect(p).toContain(`page ${i + 1} of ${pages.length}`);
    expect(p.replace(/\s+/g, "")).toContain(
      `HIPAAcompliancepacket|${cyrillic}|${id63}|2026-11`.replace(/\s+/g, ""),
    );
  });
  // Every cell's whole value is there once the wrapping whitespace is taken out.
  const flat = stdout.replace(/\s+/g, "");
  const count = (s: string) => flat.split(s.replace(/\s+/g, "")).length - 1;
  expect(count(key)).toBe(40);
  expect(count(`${citations}`)).toBe(40);
  expect(count(`${detail} ${nonLatin}`.replace(cjk, cjkPrinted))).toBe(40);
  expect(stdout).not.toContain("…");
  // Non-Latin letters are the letters themselves, read back exactly where a line holds them
  // whole; only the characters DejaVu Sans has no glyph for are code points.
  expect(stdout).toContain(`HIPAA compliance packet: ${greek}`);
  expect(stdout).toContain(`${cyrillic} ${accented}`);
  expect(stdout).toContain(`After: ${accented}`);
  expect(stdout).toContain("Έλεγχος");
  // Hebrew and Arabic words are drawn right to left on their own; the Latin and the digits after
  // a Hebrew word keep their order (pdftotext marks the right-to-left words with embeddings).
  const plain = stdout.replace(/[\u202a-\u202e]/g, "");
  expect(plain).toContain(`${hebrew} dental-01 seq 42 ${arabic}`);
  // A bar's note wraps in its column.
  expect(flat).toContain(`50%(${cyrillic})`.replace(/\s+/g, ""));
  expect(count(cjkPrinted)).toBe(40);
  expect(stdout.match(/\[U\+[0-9A-F]+\]/g)?.filter((c) => !cjkPrinted.includes(c))).toEqual([]);
  // The contents name each section with its page.
  expect(stdout).toMatch(/Archived objects\s+1/);
  expect(stdout).toMatch(/After: Clínica São João – Zoë Ñúñez-Håkansson, Łódź\s+\d+/);

  // Every word lies inside the right margin as the embedded font measures it: lines were wrapped
  // by the widths of the font that draws them.
  const { stdout: boxes } = await run("pdftotext", ["-bbox", file, "-"]);
  const right = [...boxes.matchAll(/<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"/g)].map((m) =>
    Number(m[1]),
  );
  expect(right.length).toBeGreaterThan(1000);
  expect(Math.max(...right)).toBeLessThanOrEqual(595.28 - 48 + 0.5);
  // The font is DejaVu Sans, regular and bold, embedded as subsets.
  const { stdout: fonts } = await run("pdffonts", [file]);
  expect(fonts).toMatch(/[A-Z]{6}\+DejaVuSans\s+CID TrueType\s+Identity-H\s+yes yes yes/);
  expect(fonts).toMatch(/[A-Z]{6}\+DejaVuSans-Bold\s+CID TrueType\s+Identity-H\s+yes yes yes/);
  // Markdown keeps the exact text, non-Latin included.
  const md = renderMarkdown(blocks);
  expect(md).toContain(key);
  expect(md).toContain(nonLatin);
});
