import { describe, expect, it } from "vitest";
import { readYaml } from "./yaml-source.ts";

const TEXT = `# comment
id: hipaa-v1
areas:
  - id: ssh
    toggles:
      - id: a
        check: { id: services, finding: x }
      - id: b
        citations: ["45 CFR 164.312(b)", "45 CFR 164.312(d)"]
dates: 2026-11-25
`;

describe("readYaml", () => {
  const { source, data, problems } = readYaml("f.yaml", TEXT);

  it("parses YAML 1.2 core: dates stay strings", () => {
    expect(problems).toEqual([]);
    expect((data as { dates: unknown }).dates).toBe("2026-11-25");
  });

  it.each([
    [["id"], 2, 1],
    [["areas", 0, "toggles", 1, "id"], 8, 9],
    [["areas", 0, "toggles", 0, "check", "finding"], 7, 32],
    [["areas", 0, "toggles", 1, "citations", 1], 9, 42],
    // A missing key points at the closest thing that exists: the toggle itself.
    [["areas", 0, "toggles", 1, "remediation"], 8, 9],
  ] as const)("locates %j at %i:%i", (path, line, column) => {
    expect(source.locate(path)).toEqual({ line, column });
  });

  it("formats field paths the way the messages show them", () => {
    expect(source.field(["areas", 0, "toggles", 1, "citations", 1])).toBe(
      "areas[0].toggles[1].citations[1]",
    );
  });

  it("reports syntax errors and duplicate keys with their line", () => {
    const broken = readYaml("g.yaml", "a: 1\nb: [1, 2\nc: 3\n");
    expect(broken.data).toBeUndefined();
    expect(broken.problems[0]?.code).toBe("yaml_syntax");
    expect(broken.problems[0]?.line).toBeGreaterThanOrEqual(2);
    const duplicate = readYaml("h.yaml", "a: 1\nb: 2\na: 3\n");
    expect(duplicate.problems.map((p) => [p.code, p.line])).toEqual([["yaml_syntax", 3]]);
  });
});
