import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ControlPlaneError } from "../errors.ts";

/** Writes a new file, refusing to overwrite; secrets get mode 0600 in a 0700 directory. */
export function writeNew(path: string, data: string, secret: boolean): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, data, { mode: secret ? 0o600 : 0o644, flag: "wx" });
}

export function readText(path: string, what: string): string {
  if (!existsSync(path))
    throw new ControlPlaneError(
      "file_missing",
      `${what} not found at ${path} (run control-plane init first?)`,
    );
  return readFileSync(path, "utf8");
}
