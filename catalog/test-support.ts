import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root: the shipped catalog that tests copy and break. */
export const REPO_ROOT = join(import.meta.dirname, "..");

/** A private copy of the shipped catalog files (baseline/ and runbooks/) in a temp dir. */
export function copyCatalog(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), "catalog-"));
  for (const dir of ["baseline", "runbooks"]) {
    cpSync(join(REPO_ROOT, dir), join(root, dir), { recursive: true });
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Replaces the one occurrence of `from` in `file` with `to` and returns the 1-based line of the
 * first line that changed, so a test can assert the problem points at exactly that line.
 */
export function breakFile(root: string, file: string, from: string, to: string): number {
  const path = join(root, file);
  const text = readFileSync(path, "utf8");
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`${file} must contain ${JSON.stringify(from)} exactly once`);
  }
  writeFileSync(path, text.slice(0, at) + to + text.slice(at + from.length));
  const before = from.split("\n");
  const after = to.split("\n");
  const changed = after.findIndex((line, index) => line !== before[index]);
  return text.slice(0, at).split("\n").length + Math.max(changed, 0);
}
