import { describe, expect, it } from "vitest";
import { Citation, parseCitation, safeguardOf } from "./citation.ts";

describe("Citation", () => {
  it.each([
    "45 CFR 164.312(b)",
    "45 CFR 164.312(a)(1)",
    "45 CFR 164.312(a)(2)(iv)",
    "45 CFR 164.308(a)(1)(ii)(D)",
    "45 CFR 164.308(a)(7)(ii)(E)",
    "45 CFR 164.310(d)(2)(iii)",
    "45 CFR 164.316(b)(2)(i)",
    "45 CFR 164.316(a)",
    "45 CFR 164.314(a)(1)",
  ])("accepts %s", (citation) => {
    expect(Citation.safeParse(citation).success).toBe(true);
  });

  it.each([
    ["no CFR title", "164.312(b)"],
    ["a space before the paragraph", "45 CFR 164.312 (b)"],
    ["a section sign", "45 CFR § 164.312(b)"],
    ["no paragraph", "45 CFR 164.312"],
    ["outside the Security Rule", "45 CFR 164.502(a)"],
    ["the Privacy Rule's neighbour", "45 CFR 164.320(a)"],
    ["levels out of order", "45 CFR 164.312(a)(iv)"],
    ["upper-case first level", "45 CFR 164.312(A)"],
    ["not a roman numeral", "45 CFR 164.312(a)(2)(iiii)"],
    ["trailing text", "45 CFR 164.312(b) audit controls"],
    ["lower-case cfr", "45 cfr 164.312(b)"],
    ["two spaces", "45 CFR  164.312(b)"],
    ["a fifth level", "45 CFR 164.308(a)(1)(ii)(A)(1)"],
  ])("rejects %s: %s", (_why, citation) => {
    expect(Citation.safeParse(citation).success).toBe(false);
  });
});

describe("parseCitation and safeguardOf", () => {
  it("splits the section from its paragraphs", () => {
    expect(parseCitation("45 CFR 164.308(a)(1)(ii)(B)")).toEqual({
      section: "164.308",
      paragraphs: ["a", "1", "ii", "B"],
    });
    expect(parseCitation("164.308(a)")).toBeNull();
  });

  it.each([
    ["45 CFR 164.308(a)(8)", "administrative"],
    ["45 CFR 164.310(c)", "physical"],
    ["45 CFR 164.312(d)", "technical"],
    ["45 CFR 164.316(b)(1)", "documentation"],
    ["45 CFR 164.314(a)(1)", null],
  ])("%s is %s", (citation, family) => {
    expect(safeguardOf(citation)).toBe(family);
  });
});
