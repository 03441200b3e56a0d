import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// catalog/ sits just above protocol/: agent, control plane, Nix module and packets read it, so it
// must not pull in any of them, nor any library beyond zod and yaml.
const ALLOWED = /^(?:\.\/[a-z-]+\.ts|#protocol|zod|yaml|node:[a-z_/]+)$/;
const TEST_ONLY = new Set(["vitest"]);

describe("catalog imports", () => {
  const files = readdirSync(import.meta.dirname).filter((f) => f.endsWith(".ts"));

  it.each(files)("%s imports only #protocol, zod, yaml and node: built-ins", (file) => {
    const text = readFileSync(`${import.meta.dirname}/${file}`, "utf8");
    const specifiers = [...text.matchAll(/^(?:import|export)[^"]*?from "([^"]+)"/gms)].map(
      (m) => m[1],
    );
    const bad = specifiers.filter(
      (s) => !(s && (ALLOWED.test(s) || (file.endsWith(".test.ts") && TEST_ONLY.has(s)))),
    );
    expect(bad).toEqual([]);
  });
});
