import { readFileSync, statSync } from "node:fs";
import { writeFileAtomic } from "../../atomic-file.ts";
import { AgentError } from "../../errors.ts";
import { LabState } from "./state.ts";

/** Reads and validates a lab state file; a malformed file names the field at fault. */
export function readLabStateFile(path: string): LabState {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new AgentError("invalid_config", `lab state ${path} is not readable JSON`, { cause });
  }
  const parsed = LabState.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `  ${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new AgentError("invalid_config", `lab state ${path} is invalid:\n${issues.join("\n")}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Atomic: a reader (a running agent) sees the old state or the new one, never a torn file. */
export function writeLabStateFile(path: string, state: LabState): void {
  writeFileAtomic(path, `${JSON.stringify(LabState.parse(state), null, 2)}\n`, 0o644);
}

/** A cheap change token (mtime and size) so a reader re-reads only after a write. */
export function labStateVersion(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${s.mtimeNs}:${s.size}:${s.ino}`;
}
