import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { segmentKey } from "../vault/keys.ts";
import type { Block } from "./document.ts";
import { renderMarkdown } from "./render-md.ts";
import { renderPdf, winAnsi } from "./render-pdf.ts";

/**
 * The PDF wraps and never truncates: the longest real values (a segment key of two 63-character
 * ids, a 63-character id, a long citation list, a 500-character detail, non-Latin text) come back
 * whole from pdftotext, on pages that each carry the running header, the mark and their number.
 */
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "cp-packet-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const id63 = `a${"b1-".repeat(20)}cd`;
const key = segmentKey(id63, id63, new Date("2026-11-30T23:55:00Z"), 2_591_999, 2_592_000);
const citations =
  "45 CFR 164.308(a)(1)(ii)(D); 45 CFR 164.308(a)(5)(ii)(C); 45 CFR 164.312(b); 45 CFR 164.312(c)(1); 45 CFR 164.312(e)(2)(ii)";
const detail = `${"verification failed after rollback of nftables.service; ".repeat(9)}end`;
const nonLatin = "診療所サーバー Клиника ñandú";

it("wraps every long value onto more lines and keeps all of it", async () => {
  expect(id63).toHaveLength(63);
  const blocks: Block[] = [
    { kind: "title", text: `HIPAA compliance packet: ${id63}` },
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
    { kind: "heading", text: "After" },
    { kind: "para", text: "closing line" },
  ];
  const pdf = await renderPdf(blocks, {
    title: "layout",
    date: new Date(0),
    header: `HIPAA compliance packet | ${id63} | 2026-11`,
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
    expect(p.replace(/\s+/g, "")).toContain(`HIPAAcompliancepacket|${id63}|2026-11`);
  });
  // Every cell's whole value is there once the wrapping whitespace is taken out.
  const flat = stdout.replace(/\s+/g, "");
  const count = (s: string) => flat.split(s.replace(/\s+/g, "")).length - 1;
  expect(count(key)).toBe(40);
  expect(count(`${citations}`)).toBe(40);
  expect(count(winAnsi(`${detail} ${nonLatin}`))).toBe(40);
  expect(winAnsi(nonLatin)).toContain("[U+8A3A]");
  expect(stdout).not.toContain("…");
  // The contents name each section with its page.
  expect(stdout).toMatch(/Archived objects\s+1/);
  expect(stdout).toMatch(/After\s+\d+/);
  // Markdown keeps the exact text, non-Latin included.
  const md = renderMarkdown(blocks);
  expect(md).toContain(key);
  expect(md).toContain(nonLatin);
});
