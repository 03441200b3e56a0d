import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStackFile } from "./stack-file.ts";

/** Every stack file in stacks/ is one the program accepts: the examples cannot rot. */
const STACKS = join(import.meta.dirname, "..", "..", "stacks");
const files = readdirSync(STACKS).filter((f) => /^Pulumi\..+\.yaml$/.test(f));

describe("stacks/", () => {
  it("holds the example clinic and the central stack", () => {
    expect(files).toEqual(expect.arrayContaining(["Pulumi.central.yaml", "Pulumi.riverside.yaml"]));
  });

  it.each(files)("%s parses with the stack schema", (file) => {
    const stack = file.replace(/^Pulumi\.(.+)\.yaml$/, "$1");
    const config = readStackFile(readFileSync(join(STACKS, file), "utf8"), stack);
    expect(config.kind).toBe(stack === "central" ? "central" : "tenant");
  });
});
