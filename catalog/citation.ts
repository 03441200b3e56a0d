import { z } from "zod";

/**
 * HIPAA Security Rule citations, written the way the Federal Register and auditors write them:
 * `45 CFR 164.312(b)`, `45 CFR 164.312(a)(2)(iv)`. Paragraph levels follow the CFR outline:
 * (a) lower-case letter, (1) number, (i) lower-case roman, (A) upper-case letter. Only sections of
 * Subpart C (164.302 to 164.318) are accepted; whether a citation names a real standard or
 * implementation specification is decided by the controls map, not by this pattern.
 */
export const CITATION_PATTERN =
  /^45 CFR 164\.3(?:0[2-9]|1[0-8])\([a-z]\)(?:\([1-9][0-9]?\)(?:\((?:i{1,3}|iv|vi{0,3}|ix|x)\)(?:\([A-Z]\))?)?)?$/;

export const Citation = z
  .string()
  .regex(
    CITATION_PATTERN,
    "write a citation as 45 CFR 164.<section>(<paragraph>)..., for example 45 CFR 164.312(a)(2)(iv)",
  );
export type Citation = z.infer<typeof Citation>;

/** True when a zod issue is the citation pattern failing, so the lint can name it precisely. */
export function isCitationIssue(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === "invalid_format" &&
    "pattern" in issue &&
    issue.pattern === CITATION_PATTERN.toString()
  );
}

export const SAFEGUARDS = {
  "164.308": "administrative",
  "164.310": "physical",
  "164.312": "technical",
  "164.316": "documentation",
} as const;
export type Safeguard = (typeof SAFEGUARDS)[keyof typeof SAFEGUARDS];

/** `45 CFR 164.312(a)(2)(iv)` → section `164.312`, paragraphs `["a", "2", "iv"]`. */
export function parseCitation(citation: string): { section: string; paragraphs: string[] } | null {
  if (!CITATION_PATTERN.test(citation)) return null;
  const body = citation.slice("45 CFR ".length);
  const open = body.indexOf("(");
  const paragraphs = [...body.slice(open).matchAll(/\(([^)]+)\)/g)].map((m) => m[1] ?? "");
  return { section: body.slice(0, open), paragraphs };
}

/** The safeguard family a section belongs to, or null outside the four mapped sections. */
export function safeguardOf(citation: string): Safeguard | null {
  const parsed = parseCitation(citation);
  if (parsed === null) return null;
  return (SAFEGUARDS as Record<string, Safeguard>)[parsed.section] ?? null;
}
