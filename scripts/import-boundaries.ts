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

/**
 * Import cycles between the repository's own files, type-only imports included (a cycle of
 * types still ties two modules' meaning together). Each cycle is reported once, as the path that
 * leads from its alphabetically first file back to it. A linter's project-wide cycle rule would
 * index every dependency's type declarations first; reading only our own files is what makes
 * this cheap enough to run on every check.
 */
export function findImportCycles(
  files: ReadonlyMap<string, string>,
  aliases: Readonly<Record<string, string>>,
): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, source] of files) {
    const targets = new Set<string>();
    for (const { fileName: specifier } of ts.preProcessFile(source, true, true).importedFiles) {
      const target = resolveFile(file, specifier, aliases);
      if (target !== undefined && files.has(target)) targets.add(target);
    }
    edges.set(file, [...targets].sort());
  }
  return stronglyConnected(edges)
    .filter(
      (component) =>
        component.length > 1 || edges.get(component[0] ?? "")?.includes(component[0] ?? ""),
    )
    .map((component) => cycleThrough(component, edges))
    .sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
}

/** Tarjan's algorithm, iterative so that a long import chain cannot overflow the stack. */
function stronglyConnected(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const start of [...edges.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { node: string; child: number }[] = [{ node: start, child: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; child: number };
      const children = edges.get(frame.node) ?? [];
      if (frame.child < children.length) {
        const child = children[frame.child++] as string;
        if (!index.has(child)) {
          index.set(child, next);
          low.set(child, next++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, child: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(child) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/** A shortest path from the component's first file back to itself, staying inside it. */
function cycleThrough(
  component: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[] {
  const members = new Set(component);
  const first = component[0] as string;
  const cameFrom = new Map<string, string>();
  const queue = [first];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const child of edges.get(node) ?? []) {
      if (!members.has(child)) continue;
      if (child === first) {
        const path = [first];
        for (
          let at: string | undefined = node;
          at !== first && at !== undefined;
          at = cameFrom.get(at)
        ) {
          path.splice(1, 0, at);
        }
        return [...path, first];
      }
      if (!cameFrom.has(child)) {
        cameFrom.set(child, node);
        queue.push(child);
      }
    }
  }
  return [first, first];
}

/** The repository file a relative or aliased specifier names, or undefined for a package. */
function resolveFile(
  file: string,
  specifier: string,
  aliases: Readonly<Record<string, string>>,
): string | undefined {
  if (specifier.startsWith(".")) return posix.normalize(posix.join(posix.dirname(file), specifier));
  if (specifier.startsWith("#")) {
    const alias = aliases[specifier];
    return alias === undefined ? undefined : posix.normalize(alias);
  }
  return undefined;
}

/** The top-level area a specifier points into, or undefined for a package. */
function resolveArea(
  file: string,
  specifier: string,
  aliases: Readonly<Record<string, string>>,
): string | undefined {
  if (specifier.startsWith("#") && aliases[specifier] === undefined) return "(unknown alias)";
  const target = resolveFile(file, specifier, aliases);
  if (target === undefined) return undefined;
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
