/**
 * The packet as a list of blocks, rendered twice (Markdown and PDF) so both state exactly the
 * same sections and figures.
 */
export type Block =
  | { readonly kind: "title"; readonly text: string }
  | { readonly kind: "heading"; readonly text: string }
  | { readonly kind: "para"; readonly text: string }
  | { readonly kind: "pagebreak" }
  /** The table of contents: the headings that follow, with their pages (PDF) or links (Markdown). */
  | { readonly kind: "toc"; readonly entries: number }
  | {
      readonly kind: "table";
      readonly columns: readonly string[];
      readonly rows: readonly (readonly string[])[];
      /** What an empty table says instead ("None in this period." by default). */
      readonly empty?: string;
    }
  | {
      readonly kind: "chart";
      /** percent null: no runs, so no rate ("no data"). */
      readonly bars: readonly { label: string; percent: number | null; note: string }[];
    };
