import { PARAM_KINDS, type ParamKind } from "./param-kinds.ts";

/**
 * Recognises text that somebody meant as a command line. The typed param schemas would reject
 * most of it anyway, but "this looks like a shell command" is the message an author needs,
 * and the rule holds for every string of a step, whatever its kind.
 */
const SHELL_METACHARACTERS = /[;|&$`<>\\\n]/;

/** Keys that only make sense for a command line. A step or its params must never have them. */
export const SHELL_KEYS: ReadonlySet<string> = new Set([
  "bash",
  "cmd",
  "command",
  "exec",
  "run",
  "script",
  "sh",
  "shell",
]);

/** Why `value` looks like a shell string, or null. `kind` undefined means an unexpected param. */
export function shellStringReason(value: string, kind: ParamKind | undefined): string | null {
  const meta = SHELL_METACHARACTERS.exec(value);
  if (meta !== null) {
    const char = meta[0] === "\n" ? "a line break" : `"${meta[0]}"`;
    return `looks like a shell command (${quote(value)} contains ${char})`;
  }
  const nameExpected = kind === undefined || PARAM_KINDS[kind].name;
  if (nameExpected && /\s/.test(value)) {
    return `looks like a command line where a name is expected (${quote(value)} contains spaces)`;
  }
  return null;
}

export const SHELL_HINT =
  "steps are typed actions with typed parameters, never shell strings: name the unit, job or " +
  "check alone and pick an action from the allowlist";

function quote(value: string): string {
  const short = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(short);
}
