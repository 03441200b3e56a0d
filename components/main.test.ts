import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * What Pulumi's Node.js host does with the project before running it (its run.js): read
 * Pulumi.yaml's `main`, import that file with a dynamic import (package.json says
 * "type": "module"), and take its default export; named exports beside a default are an error.
 */
const root = resolve(import.meta.dirname, "..");
const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as {
  main: string;
  stackConfigDir: string;
  runtime: { name: string; options: { typescript: boolean } };
};

describe("Pulumi.yaml and the program entry", () => {
  it("names a nodejs program without ts-node, an entry that exists and the stacks folder", () => {
    expect(project.runtime).toEqual({
      name: "nodejs",
      options: { typescript: false, packagemanager: "npm" },
    });
    expect(existsSync(join(root, project.main))).toBe(true);
    expect(existsSync(join(root, project.stackConfigDir))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).type).toBe("module");
  });

  it("exports only a default function when plain Node 24 imports it", () => {
    const url = pathToFileURL(join(root, project.main)).href;
    const run = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify({ keys: Object.keys(m), type: typeof m.default }));`,
      ],
      { cwd: root, encoding: "utf8", timeout: 30_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ keys: ["default"], type: "function" });
  });
});
