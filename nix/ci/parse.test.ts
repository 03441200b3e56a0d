import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nixParse, REPO_ROOT, tempDir, writeFiles } from "./tools.ts";

/** Every .nix file of the repository (the flake at the root and everything under nix/). */
function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return nixFiles(path);
    return entry.name.endsWith(".nix") ? [path] : [];
  });
}

const files = nixFiles(REPO_ROOT).map((path) => relative(REPO_ROOT, path));
const tmp = tempDir("nix-parse-");
afterAll(tmp.remove);

describe("nix-instantiate --parse", () => {
  it("finds the flake, the module, the appliance, the ISO and the VM tests", () => {
    for (const file of [
      "flake.nix",
      "nix/module.nix",
      "nix/package.nix",
      "nix/appliance.nix",
      "nix/iso.nix",
      "nix/tests/default.nix",
    ]) {
      expect(files).toContain(file);
    }
  });

  it.each(files)("%s parses", (file) => {
    const result = nixParse(join(REPO_ROOT, file));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("a broken file does not (the gate can fail)", () => {
    const [broken = ""] = writeFiles(tmp.dir, { "broken.nix": "{ a = 1 b = 2; }\n" });
    const result = nixParse(broken);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/syntax error/);
  });
});
