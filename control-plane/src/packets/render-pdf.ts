import { PDFDocument, type PDFPage, rgb } from "pdf-lib";
import type { Block } from "./document.ts";
import { embedFaces, type Face } from "./fonts.ts";

/**
 * The packet as PDF (pdf-lib with DejaVu Sans embedded, see fonts.ts: text tools such as
 * pdftotext read it back, non-Latin letters included). Table cells wrap onto as many lines as
 * they need, measured with the embedded font, never cut; a word wider than its column breaks
 * inside (after a separator where it can). Every page carries a running header (client and
 * period), the LAB / NOT WORM mark when the archive is not WORM, and "page n of N". A character
 * the font has no glyph for is written as its code point, [U+XXXX]; packet.md keeps the exact
 * text.
 */
const A4: [number, number] = [595.28, 841.89];
const MARGIN = 48;
const TOP = 60;
const BOTTOM = 52;
const WIDTH = A4[0] - 2 * MARGIN;
const CELL_PAD = 4;

export interface PdfMeta {
  readonly title: string;
  readonly date: Date;
  /** The running header: client and period. */
  readonly header: string;
  /** Printed on every page when set (LAB / NOT WORM). */
  readonly mark: string | null;
}

export async function renderPdf(blocks: readonly Block[], meta: PdfMeta) {
  const doc = await PDFDocument.create();
  doc.setTitle(meta.title);
  doc.setProducer("MSP Compliance Platform");
  doc.setCreator("control-plane packets");
  doc.setCreationDate(meta.date);
  doc.setModificationDate(meta.date);
  const { regular: font, bold } = await embedFaces(doc);
  let page: PDFPage = doc.addPage(A4);
  let y = A4[1] - TOP;
  const newPage = () => {
    page = doc.addPage(A4);
    y = A4[1] - TOP;
  };
  const need = (h: number) => {
    if (y - h < BOTTOM) newPage();
  };
  const line = (text: string, f: Face, size: number, x = MARGIN) => {
    need(size + 4);
    f.draw(page, text, { x, y: y - size, size });
    y -= size + 4;
  };
  /** Section headings with the page they start on, for the table of contents. */
  const toc: { text: string; page: number; y: number }[] = [];
  let tocSlot: { page: PDFPage; y: number; entries: number } | null = null;

  for (const b of blocks) {
    if (b.kind === "title") {
      for (const l of wrap(b.text, bold, 16, WIDTH)) line(l, bold, 16);
      y -= 6;
    } else if (b.kind === "pagebreak") {
      if (y < A4[1] - TOP) newPage();
    } else if (b.kind === "toc") {
      line("Contents", bold, 12);
      // Filled in at the end, once every heading's page is known.
      tocSlot = { page, y, entries: b.entries };
      y -= b.entries * 12 + 8;
    } else if (b.kind === "heading") {
      y -= 8;
      need(48);
      toc.push({ text: b.text, page: doc.getPageCount(), y });
      line(b.text, bold, 12);
    } else if (b.kind === "para") {
      for (const l of wrap(b.text, font, 9, WIDTH)) line(l, font, 9);
      y -= 4;
    } else if (b.kind === "chart") {
      const labelW = 110;
      const barW = WIDTH - labelW - 90;
      for (const bar of b.bars) {
        // Label and note wrap in their columns like table cells; the row grows to hold them.
        const labels = wrap(bar.label, font, 9, labelW - 4);
        const note = bar.percent === null ? bar.note : `${bar.percent}% (${bar.note})`;
        const notes = wrap(note, font, 8, 86);
        const h = Math.max(16, labels.length * 11 + 5, notes.length * 10 + 6);
        need(h);
        labels.forEach((l, k) => {
          font.draw(page, l, { x: MARGIN, y: y - 10 - k * 11, size: 9 });
        });
        page.drawRectangle({
          x: MARGIN + labelW,
          y: y - 12,
          width: barW,
          height: 11,
          color: rgb(0.9, 0.9, 0.9),
        });
        if (bar.percent !== null) {
          page.drawRectangle({
            x: MARGIN + labelW,
            y: y - 12,
            width: (barW * bar.percent) / 100,
            height: 11,
            color: bar.percent >= 95 ? rgb(0.2, 0.55, 0.3) : rgb(0.8, 0.45, 0.1),
          });
        }
        notes.forEach((l, k) => {
          font.draw(page, l, { x: MARGIN + labelW + barW + 4, y: y - 10 - k * 10, size: 8 });
        });
        y -= h;
      }
      y -= 4;
    } else if (b.kind === "table") {
      if (b.rows.length === 0) {
        line(b.empty ?? "None in this period.", font, 9);
        y -= 4;
        continue;
      }
      const size = 7.5;
      const lead = size + 2;
      const colW = columnWidths(b, font, bold, size);
      const cells = (r: readonly string[], f: Face) =>
        r.map((c, i) => wrap(c, f, size, (colW[i] ?? 40) - CELL_PAD));
      const draw = (wrapped: string[][], f: Face) => {
        const h = Math.max(1, ...wrapped.map((l) => l.length)) * lead + 3;
        let x = MARGIN;
        wrapped.forEach((lines, i) => {
          lines.forEach((l, k) => {
            f.draw(page, l, { x, y: y - size - k * lead, size });
          });
          x += colW[i] ?? 40;
        });
        y -= h;
        page.drawLine({
          start: { x: MARGIN, y: y + 1.5 },
          end: { x: MARGIN + colW.reduce((s, w) => s + w, 0), y: y + 1.5 },
          thickness: 0.3,
          color: rgb(0.75, 0.75, 0.75),
        });
      };
      const head = cells(b.columns, bold);
      const height = (w: string[][]) => Math.max(1, ...w.map((l) => l.length)) * lead + 3;
      const headH = height(head);
      need(headH + lead + 3);
      draw(head, bold);
      for (const r of b.rows) {
        let rest = cells(r, font);
        for (;;) {
          const h = height(rest);
          if (y - h >= BOTTOM) {
            draw(rest, font);
            break;
          }
          // A row that fits a fresh page moves there whole, under a repeated header; a row
          // taller than a page continues on the next one.
          if (h <= A4[1] - TOP - BOTTOM - headH) {
            newPage();
            draw(head, bold);
            continue;
          }
          const fit = Math.max(1, Math.floor((y - BOTTOM - 3) / lead));
          draw(
            rest.map((l) => l.slice(0, fit)),
            font,
          );
          rest = rest.map((l) => l.slice(fit));
          newPage();
          draw(head, bold);
        }
      }
      y -= 6;
    }
  }

  if (tocSlot) {
    const slot = tocSlot as { page: PDFPage; y: number; entries: number };
    let ty = slot.y;
    for (const t of toc.slice(0, slot.entries)) {
      const label = font.printable(t.text);
      const num = String(t.page);
      font.draw(slot.page, label, { x: MARGIN + 8, y: ty - 9, size: 9 });
      font.draw(slot.page, num, { x: MARGIN + WIDTH - font.width(num, 9), y: ty - 9, size: 9 });
      ty -= 12;
    }
  }

  const pages = doc.getPages();
  const headLines = wrap(meta.header, font, 7.5, WIDTH - 120);
  const mark = meta.mark === null ? null : bold.printable(meta.mark);
  const red = rgb(0.75, 0.1, 0.1);
  pages.forEach((p, i) => {
    const [w, h] = [p.getWidth(), p.getHeight()];
    headLines.forEach((l, k) => {
      font.draw(p, l, { x: MARGIN, y: h - 28 - k * 9, size: 7.5, color: rgb(0.3, 0.3, 0.3) });
    });
    if (mark) {
      bold.draw(p, mark, { x: w - MARGIN - bold.width(mark, 9), y: h - 28, size: 9, color: red });
      bold.draw(p, mark, { x: MARGIN, y: 24, size: 8, color: red });
    }
    const num = `page ${i + 1} of ${pages.length}`;
    font.draw(p, num, { x: w - MARGIN - font.width(num, 8), y: 24, size: 8 });
  });
  return doc.save({ useObjectStreams: false });
}

/**
 * Lines of `text` no wider than `width`: words first; a word wider than the column breaks after
 * a separator (/ - _ . :) where one fits, else at the last character that fits, never inside a
 * surrogate pair or before a combining mark (a letter keeps its accent).
 */
export function wrap(text: string, f: Face, size: number, width: number): string[] {
  const fits = (s: string) => f.width(s, size) <= width;
  const lines: string[] = [];
  for (const paragraph of f.printable(text).split("\n")) {
    let current = "";
    for (const word of paragraph.split(" ")) {
      const next = current ? `${current} ${word}` : word;
      if (fits(next)) {
        current = next;
        continue;
      }
      if (current) lines.push(current);
      current = word;
      while (!fits(current) && current.length > 1) {
        let cut = current.length - 1;
        while (cut > 1 && !(breaksAt(current, cut) && fits(current.slice(0, cut)))) cut -= 1;
        const sep = Math.max(
          ...["/", "-", "_", ".", ":"].map((c) => current.lastIndexOf(c, cut - 1)),
        );
        if (sep >= Math.floor(cut / 2)) cut = sep + 1;
        lines.push(current.slice(0, cut));
        current = current.slice(cut);
      }
    }
    lines.push(current);
  }
  return lines;
}

function breaksAt(s: string, i: number): boolean {
  const unit = s.charCodeAt(i);
  return !(unit >= 0xdc00 && unit <= 0xdfff) && !/^\p{M}/u.test(s.slice(i, i + 2));
}

/**
 * Column widths: each column's widest cell when the table fits the page; otherwise every column
 * gets at least its longest word (up to a share of the page) and the rest is shared by need.
 */
function columnWidths(b: Extract<Block, { kind: "table" }>, font: Face, bold: Face, size: number) {
  const width = (f: Face, s: string) => f.width(f.printable(s), size);
  const natural = b.columns.map(
    (c, i) =>
      Math.max(width(bold, c), ...b.rows.map((r) => width(font, r[i] ?? ""))) + CELL_PAD + 2,
  );
  const total = natural.reduce((s, w) => s + w, 0);
  if (total <= WIDTH) return natural;
  const cap = WIDTH / Math.max(2, b.columns.length - 1);
  const minimum = b.columns.map((c, i) => {
    const longest = Math.max(
      ...c.split(" ").map((w) => width(bold, w)),
      ...b.rows.flatMap((r) => (r[i] ?? "").split(" ").map((w) => width(font, w))),
    );
    return Math.min(cap, Math.max(28, longest + CELL_PAD + 2), natural[i] ?? 0);
  });
  const base = minimum.reduce((s, w) => s + w, 0);
  const spare = Math.max(0, WIDTH - base);
  const want = natural.map((n, i) => Math.max(0, n - (minimum[i] ?? 0)));
  const wanted = want.reduce((s, w) => s + w, 0) || 1;
  const widths = minimum.map((m, i) => m + (spare * (want[i] ?? 0)) / wanted);
  const sum = widths.reduce((s, w) => s + w, 0);
  return sum <= WIDTH ? widths : widths.map((w) => (w * WIDTH) / sum);
}
