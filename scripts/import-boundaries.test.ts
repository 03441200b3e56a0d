import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findImportCycles, findViolations, readRepositorySources } from "./import-boundaries.ts";

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  imports: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};

describe("import boundaries", () => {
  it("hold across the whole repository", () => {
    const files = readRepositorySources(root);
    expect(files.size).toBeGreaterThan(10);
    expect([...files.keys()].some((f) => f.startsWith("protocol/"))).toBe(true);
    expect(findViolations(files, pkg.imports)).toEqual([]);
  });

  it("leave no import cycle among the repository's own files", () => {
    expect(findImportCycles(readRepositorySources(root), pkg.imports)).toEqual([]);
  });

  it("find a cycle through relative, aliased and type-only imports, and a file importing itself", () => {
    const files = new Map([
      ["protocol/a.ts", 'import { b } from "./b.ts";'],
      ["protocol/b.ts", 'import type { C } from "./sub/c.ts";'],
      ["protocol/sub/c.ts", 'export { a } from "#protocol";'],
      ["protocol/index.ts", 'export * from "./a.ts";'],
      ["protocol/d.ts", 'import "./d.ts"; import { z } from "zod";'],
      ["protocol/e.ts", 'import { a } from "./a.ts";'],
    ]);
    expect(findImportCycles(files, { "#protocol": "./protocol/index.ts" })).toEqual([
      ["protocol/a.ts", "protocol/b.ts", "protocol/sub/c.ts", "protocol/index.ts", "protocol/a.ts"],
      ["protocol/d.ts", "protocol/d.ts"],
    ]);
    // Break one link and the first cycle is gone; e.ts only leads into it and was never part.
    files.set("protocol/b.ts", "export const b = 1;");
    expect(findImportCycles(files, { "#protocol": "./protocol/index.ts" })).toEqual([
      ["protocol/d.ts", "protocol/d.ts"],
    ]);
  });

  it.each([
    [
      "agent importing the control plane",
      "agent/src/loop.ts",
      'import { x } from "../../control-plane/src/app.ts";',
      "agent/ must not import control-plane/",
    ],
    [
      "control plane importing the agent",
      "control-plane/src/app.ts",
      'export { y } from "../../agent/src/loop.ts";',
      "control-plane/ must not import agent/",
    ],
    [
      "components importing the control plane",
      "components/tenant.ts",
      'const m = await import("../control-plane/src/store.ts");',
      "components/ must not import control-plane/",
    ],
    [
      "protocol importing the agent",
      "protocol/x.ts",
      'import "../agent/src/main.ts";',
      "protocol/ must not import agent/",
    ],
    [
      "protocol doing file I/O",
      "protocol/x.ts",
      'import { readFile } from "node:fs/promises";',
      "protocol/ may use only zod, node:crypto and tweetnacl",
    ],
    [
      "protocol using an HTTP framework",
      "protocol/x.ts",
      'import { Hono } from "hono";',
      "protocol/ may use only zod, node:crypto and tweetnacl",
    ],
    [
      "a builtin without the node: prefix",
      "agent/x.ts",
      'import { spawn } from "child_process";',
      "write node:child_process",
    ],
    [
      "an unknown alias",
      "agent/x.ts",
      'import { a } from "#agent-internals";',
      "agent/ must not import (unknown alias)/",
    ],
    ["an area without a rule", "webapp/x.ts", 'import "zod";', "area webapp/ has no import rule"],
  ])("catch %s", (_name, file, source, problem) => {
    const violations = findViolations(new Map([[file, source]]), pkg.imports);
    expect(violations.map((v) => v.problem)).toEqual([problem]);
  });

  it.each([
    [
      "agent using protocol through the alias",
      "agent/src/loop.ts",
      'import { verifyOrder } from "#protocol";',
    ],
    [
      "control plane using protocol by path",
      "control-plane/src/app.ts",
      'import { sealBundle } from "../../protocol/index.ts";',
    ],
    [
      "protocol tests using test tools and I/O",
      "protocol/a.test.ts",
      'import { readFileSync } from "node:fs";\nimport fc from "fast-check";',
    ],
    [
      "a prefix-only builtin such as node:sqlite",
      "agent/src/journal.ts",
      'import { DatabaseSync } from "node:sqlite";',
    ],
    [
      "protocol using its own files",
      "protocol/a.ts",
      'import { z } from "zod";\nimport { b } from "./b.ts";',
    ],
  ])("allow %s", (_name, file, source) => {
    expect(findViolations(new Map([[file, source]]), pkg.imports)).toEqual([]);
  });
});

/**
 * Exceptions, each with its reason. @pulumi/pulumi depends on npm's own @npmcli/arborist (it
 * installs policy packs and plugins), whose script runner lists node-gyp so that it can build
 * *other* packages' addons; node-gyp is plain JavaScript, builds nothing of ours and never
 * runs during `npm ci` (a package that needed it would show hasInstallScript above).
 * protobufjs's postinstall (node scripts/postinstall) only compares version-scheme strings in
 * package.json files and prints a warning: no download, no compiler, harmless offline.
 */
const TOOL_CARRIERS: Readonly<Record<string, string>> = {
  "node_modules/@npmcli/run-script -> node-gyp": "npm's script runner, via @pulumi/pulumi",
};

/**
 * An optional package whose install script package.json's `allowScripts` denies is never
 * built, and nothing of ours loads it: the SBOM tool's XML validator (libxmljs2) is one, and
 * the release writes JSON SBOMs only. A denied package that is not optional would be a
 * required addon and still fails.
 */
function neverBuilt(path: string, entry: { optional?: boolean }): boolean {
  const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
  return entry.optional === true && pkg.allowScripts?.[name] === false;
}

describe("no native addons", () => {
  it("the lockfile holds no package that builds or ships a native addon", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<
        string,
        { hasInstallScript?: boolean; optional?: boolean; dependencies?: Record<string, string> }
      >;
    };
    const nativeTools = [
      "node-gyp",
      "node-gyp-build",
      "bindings",
      "prebuild-install",
      "node-addon-api",
      "nan",
    ];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (neverBuilt(path, entry)) continue;
      const deps = Object.keys(entry.dependencies ?? {});
      expect(
        deps.filter((d) => nativeTools.includes(d) && !TOOL_CARRIERS[`${path} -> ${d}`]),
        path,
      ).toEqual([]);
      if (entry.hasInstallScript) {
        // Only the pinned Node runtime, which fetches its binary from the registry, and the
        // agent bundler esbuild (development only), which checks the executable its
        // platform package brought. Neither is a Node addon loaded into our processes.
        // protobufjs (under @pulumi/pulumi's gRPC client) is listed with its reason below.
        expect(path).toMatch(/^node_modules\/(node|esbuild|protobufjs)$/);
      }
    }
  });
});
