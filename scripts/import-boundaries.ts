import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, posix, relative, sep } from "node:path";
import ts from "typescript";

/**
 * The layout is the architecture (docs/architecture.md, layers): dependencies between top-level areas
 * point one way. protocol/ is the bottom layer and imports nothing of ours, and in its shipped
 * code only zod, node:crypto and tweetnacl; the agent and the control plane import protocol/
 * (and the catalog) but never each other; components/ imports neither of them.
 */
export const ALLOWED_AREA_IMPORTS: Readonly<Record<string, readonly string[] | "any">> = {
  protocol: [],
  catalog: ["protocol"],
  agent: ["protocol", "catalog"],
  "control-plane": ["protocol", "catalog"],
  components: ["protocol", "catalog"],
  e2e: ["protocol", "scripts"],
  bench: "any",
  scripts: "any",
  nix: ["protocol", "catalog", "agent", "scripts"],
  // The auditor's offline verifier: runnable with protocol/ alone, without the control plane.
  verifier: ["protocol"],
};

/** The only packages protocol/'s shipped (non-test) code may use: it does no I/O. */
export const PROTOCOL_PACKAGES: readonly string[] = ["zod", "node:crypto", "tweetnacl"];

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly problem: string;
}

/** Root-relative POSIX path → source text; `aliases` maps package.json "imports" to targets. */
export function findViolations(
  files: ReadonlyMap<string, string>,
  aliases: Readonly<Record<string, string>>,
): Violation[] {
  const violations: Violation[] = [];
  for (const [file, source] of files) {
    const area = file.split("/")[0] ?? "";
    const allowed = ALLOWED_AREA_IMPORTS[area];
    const isTest = file.endsWith(".test.ts");
    if (allowed === undefined) {
      violations.push({ file, specifier: "", problem: `area ${area}/ has no import rule` });
      continue;
    }
    for (const { fileName: specifier } of ts.preProcessFile(source, true, true).importedFiles) {
      const target = resolveArea(file, specifier, aliases);
      if (target === undefined) {
        if (area === "protocol" && !isTest && !PROTOCOL_PACKAGES.includes(specifier)) {
          violations.push({
            file,
            specifier,
            problem: "protocol/ may use only zod, node:crypto and tweetnacl",
          });
        }
        // Node lists prefix-only builtins (node:sqlite, node:test) with their prefix.
        if (!specifier.startsWith("node:") && builtinModules.includes(specifier)) {
          violations.push({ file, specifier, problem: `write node:${specifier}` });
        }
        continue;
      }
      if (target === area || allowed === "any" || allowed.includes(target)) continue;
      violations.push({ file, specifier, problem: `${area}/ must not import ${target}/` });
    }
  }
  return violations;
}

/** The top-level area a specifier points into, or undefined for a package. */
function resolveArea(
  file: string,
  specifier: string,
  aliases: Readonly<Record<string, string>>,
): string | undefined {
  let target: string;
  if (specifier.startsWith(".")) {
    target = posix.normalize(posix.join(posix.dirname(file), specifier));
  } else if (specifier.startsWith("#")) {
    const alias = aliases[specifier];
    if (alias === undefined) return "(unknown alias)";
    target = posix.normalize(alias);
  } else {
    return undefined;
  }
  return target.startsWith("..") ? "(outside the repository)" : target.split("/")[0];
}

/** Every TypeScript file of the repository, outside node_modules and build output. */
export function readRepositorySources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "dist")
        continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && dirname(path) !== root) {
        files.set(relative(root, path).split(sep).join("/"), readFileSync(path, "utf8"));
      }
    }
  };
  walk(root);
  return files;
}
