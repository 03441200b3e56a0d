import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import fontkit from "@pdf-lib/fontkit";
import type { Color, PDFDocument, PDFFont, PDFPage } from "pdf-lib";

/**
 * The packet's fonts: DejaVu Sans and DejaVu Sans Bold from the dejavu-fonts-ttf package,
 * embedded as subsets (only the glyphs drawn) through fontkit. Greek, Cyrillic, accented Latin,
 * Hebrew and Arabic letters print as themselves and stay extractable: each glyph carries its
 * characters in the font's ToUnicode map. A character the font has no glyph for (CJK, for one)
 * is written as its code point, [U+XXXX], so nothing is dropped or drawn as an empty box.
 *
 * Lines are left to right. A run of Hebrew or Arabic inside one (its letters, with the spaces,
 * punctuation and marks between them) is laid out on its own, so fontkit shapes it and draws it
 * right to left, while the Latin text and the digits around it keep their order; a number inside
 * a Hebrew or Arabic phrase splits it into runs (no full bidirectional algorithm).
 */
export interface Face {
  readonly font: PDFFont;
  /** `text` as this face draws it: a character without a glyph becomes [U+XXXX]. */
  printable(text: string): string;
  /** The width of printable text at `size` points, from the embedded font's own metrics. */
  width(text: string, size: number): number;
  /** Draws one line of printable text, its left end at `x`. */
  draw(
    page: PDFPage,
    text: string,
    at: { x: number; y: number; size: number; color?: Color },
  ): void;
}

const RTL =
  "(?!\\p{Nd})[\\p{Script=Hebrew}\\p{Script=Arabic}\\p{Script=Syriac}\\p{Script=Thaana}\\p{Script=Nko}]";
const HAS_RTL = new RegExp(RTL, "u");
const RTL_RUN = new RegExp(`${RTL}(?:[\\p{M}\\s\\p{P}\\p{S}]*${RTL}|\\p{M})*`, "gu");

/** A line cut into left-to-right text and right-to-left runs, in the line's order. */
export function directionRuns(text: string): string[] {
  if (!HAS_RTL.test(text)) return [text];
  const runs: string[] = [];
  let at = 0;
  for (const m of text.matchAll(RTL_RUN)) {
    if (m.index > at) runs.push(text.slice(at, m.index));
    runs.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length) runs.push(text.slice(at));
  return runs;
}

/**
 * The files, and the names the PDF gives the subsets: a six-letter tag, "+", the PostScript name
 * (ISO 32000-1 §9.6.4; the tags only need to differ between the subsets of one file).
 */
const FILES = {
  regular: { file: "DejaVuSans.ttf", name: "DJVSRG+DejaVuSans" },
  bold: { file: "DejaVuSans-Bold.ttf", name: "DJVSBD+DejaVuSans-Bold" },
} as const;
type Weight = keyof typeof FILES;

interface Loaded {
  readonly bytes: Uint8Array;
  readonly covers: (codePoint: number) => boolean;
}

/** Each file is read and parsed once per process; every document embeds its own subset. */
const loaded = new Map<Weight, Promise<Loaded>>();

function load(weight: Weight): Promise<Loaded> {
  const cached = loaded.get(weight);
  if (cached) return cached;
  const loading = (async () => {
    const path = createRequire(import.meta.url).resolve(
      `dejavu-fonts-ttf/ttf/${FILES[weight].file}`,
    );
    const bytes = new Uint8Array(await readFile(path));
    const parsed = fontkit.create(bytes);
    return { bytes, covers: (codePoint: number) => parsed.hasGlyphForCodePoint(codePoint) };
  })();
  loading.catch(() => loaded.delete(weight));
  loaded.set(weight, loading);
  return loading;
}

export async function embedFaces(doc: PDFDocument): Promise<{ regular: Face; bold: Face }> {
  doc.registerFontkit(fontkit);
  const [regular, bold] = await Promise.all([embed(doc, "regular"), embed(doc, "bold")]);
  return { regular, bold };
}

async function embed(doc: PDFDocument, weight: Weight): Promise<Face> {
  const { bytes, covers } = await load(weight);
  // No ligatures: ids and hashes are copied out of the packet, and one glyph per character
  // keeps selection and search exact in every viewer. Shaping (Arabic forms, marks) stays on.
  const font = await doc.embedFont(bytes, {
    subset: true,
    customName: FILES[weight].name,
    features: { liga: false },
  });
  // Wrapping measures the same strings many times (cells, their words, prefixes of long ids).
  const widths = new Map<string, number>();
  const width = (text: string, size: number) => {
    let w = widths.get(text);
    if (w === undefined) {
      const runs = directionRuns(text);
      w =
        runs.length === 1
          ? font.widthOfTextAtSize(text, 1000)
          : runs.reduce((sum, run) => sum + font.widthOfTextAtSize(run, 1000), 0);
      widths.set(text, w);
    }
    return (w * size) / 1000;
  };
  return {
    font,
    printable: (text) => printable(text, covers),
    width,
    draw(page, text, { x, y, size, color }) {
      let left = x;
      for (const run of directionRuns(text)) {
        page.drawText(run, { x: left, y, size, font, ...(color ? { color } : {}) });
        left += width(run, size);
      }
    },
  };
}

/**
 * Tabs and other C0 controls become spaces (a newline stays: it splits paragraphs); C1 controls,
 * lone surrogates and characters without a glyph become [U+XXXX], visible and searchable.
 */
export function printable(text: string, covers: (codePoint: number) => boolean): string {
  return text.replace(/[^\x20-\x7e\n]/gu, (c) => {
    const cp = c.codePointAt(0) ?? 0;
    if (cp < 0x20) return " ";
    if ((cp >= 0x7f && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xdfff) || !covers(cp))
      return `[U+${cp.toString(16).toUpperCase().padStart(4, "0")}]`;
    return c;
  });
}
