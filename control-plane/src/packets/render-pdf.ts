import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from "pdf-lib";
import type { Block } from "./document.ts";

/**
 * The packet as PDF (pdf-lib, standard Helvetica: text tools such as pdftotext read it). Tables
 * are laid out in fixed columns; the chart's bars are vector rectangles. Standard fonts encode
 * WinAnsi only, so text is reduced to it first.
 */
const A4: [number, number] = [595.28, 841.89];
const MARGIN = 48;
const WIDTH = A4[0] - 2 * MARGIN;

export async function renderPdf(blocks: readonly Block[], meta: { title: string; date: Date }) {
  const doc = await PDFDocument.create();
  doc.setTitle(meta.title);
  doc.setProducer("MSP Compliance Platform");
  doc.setCreator("control-plane packets");
  doc.setCreationDate(meta.date);
  doc.setModificationDate(meta.date);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  let page: PDFPage = doc.addPage(A4);
  let y = A4[1] - MARGIN;
  const need = (h: number) => {
    if (y - h < MARGIN) {
      page = doc.addPage(A4);
      y = A4[1] - MARGIN;
    }
  };
  const line = (text: string, f: PDFFont, size: number, x = MARGIN) => {
    need(size + 4);
    page.drawText(winAnsi(text), { x, y: y - size, size, font: f });
    y -= size + 4;
  };
  const wrap = (text: string, f: PDFFont, size: number, width: number): string[] => {
    const lines: string[] = [];
    let current = "";
    for (const word of winAnsi(text).split(" ")) {
      const next = current ? `${current} ${word}` : word;
      if (f.widthOfTextAtSize(next, size) > width && current) {
        lines.push(current);
        current = word;
      } else current = next;
    }
    if (current) lines.push(current);
    return lines;
  };
  const clip = (text: string, f: PDFFont, size: number, width: number) => {
    let t = winAnsi(text);
    while (t.length > 1 && f.widthOfTextAtSize(t, size) > width) t = t.slice(0, -1);
    return t;
  };

  for (const b of blocks) {
    if (b.kind === "title") {
      for (const l of wrap(b.text, bold, 16, WIDTH)) line(l, bold, 16);
      y -= 6;
    } else if (b.kind === "heading") {
      y -= 8;
      need(40);
      line(b.text, bold, 12);
    } else if (b.kind === "para") {
      for (const l of wrap(b.text, font, 9, WIDTH)) line(l, font, 9);
      y -= 4;
    } else if (b.kind === "chart") {
      const labelW = 90;
      const barW = WIDTH - labelW - 60;
      for (const bar of b.bars) {
        need(16);
        page.drawText(winAnsi(bar.label), { x: MARGIN, y: y - 10, size: 9, font });
        page.drawRectangle({
          x: MARGIN + labelW,
          y: y - 12,
          width: barW,
          height: 11,
          color: rgb(0.9, 0.9, 0.9),
        });
        page.drawRectangle({
          x: MARGIN + labelW,
          y: y - 12,
          width: (barW * bar.percent) / 100,
          height: 11,
          color: bar.percent >= 95 ? rgb(0.2, 0.55, 0.3) : rgb(0.8, 0.45, 0.1),
        });
        page.drawText(`${bar.percent}% (${bar.note})`, {
          x: MARGIN + labelW + barW + 4,
          y: y - 10,
          size: 8,
          font,
        });
        y -= 16;
      }
      y -= 4;
    } else if (b.rows.length === 0) {
      line("None this month.", font, 9);
    } else {
      const size = 7.5;
      const colW = columnWidths(b, font, bold, size);
      const row = (cells: readonly string[], f: PDFFont) => {
        need(size + 4);
        let x = MARGIN;
        cells.forEach((c, i) => {
          const w = colW[i] ?? 40;
          page.drawText(clip(c, f, size, w - 4), { x, y: y - size, size, font: f });
          x += w;
        });
        y -= size + 4;
      };
      row(b.columns, bold);
      for (const r of b.rows) row(r, font);
      y -= 4;
    }
  }
  return doc.save({ useObjectStreams: false });
}

/** Widths proportional to each column's widest cell, scaled to the page. */
function columnWidths(
  b: Extract<Block, { kind: "table" }>,
  font: PDFFont,
  bold: PDFFont,
  size: number,
) {
  const natural = b.columns.map(
    (c, i) =>
      Math.max(
        bold.widthOfTextAtSize(winAnsi(c), size),
        ...b.rows.map((r) => font.widthOfTextAtSize(winAnsi(r[i] ?? ""), size)),
      ) + 6,
  );
  const total = natural.reduce((s, w) => s + w, 0);
  return total <= WIDTH ? natural : natural.map((w) => (w * WIDTH) / total);
}

/** Standard PDF fonts encode WinAnsi: keep printable ASCII and Latin-1, map the rest. */
function winAnsi(s: string): string {
  return s
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, "-")
    .replace(/\u2026/g, "...")
    .replace(/\u2192/g, "->")
    .replace(/[^\x20-\x7e\xa0-\xff]/g, "?");
}
