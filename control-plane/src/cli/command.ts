import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { ControlPlaneError } from "../errors.ts";

export type Flags = Readonly<Record<string, string | boolean | undefined>>;

/**
 * One `control-plane` subcommand: its own flags (nothing else is accepted), its usage text and
 * what it does. `run` builds the concrete objects it needs; the registry is in `index.ts`.
 */
export interface Command {
  readonly name: string;
  /** Usage lines, starting with `control-plane <name>`. */
  readonly usage: string;
  readonly options: ParseArgsOptionsConfig;
  run(flags: Flags): Promise<void>;
}

/** `--data-dir DIR | --config FILE` and `--database-url URL`, shared by the commands that read a config. */
export const CONFIG_OPTIONS = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  "database-url": { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

const usage = (message: string, cause?: unknown) =>
  new ControlPlaneError("usage", message, cause === undefined ? undefined : { cause });

/**
 * Parses `args` with the command's own flags plus `--help`. An unknown flag, a missing value or
 * a stray argument is a usage error that names it and lists the flags the command takes.
 */
export function parseFlags(command: Command, args: readonly string[]): Flags {
  const options = { ...command.options, help: { type: "boolean" } } as const;
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true }).values;
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    const message = cause instanceof Error ? cause.message : String(cause);
    const takes = `${command.name} takes ${Object.keys(command.options)
      .map((f) => `--${f}`)
      .join(", ")}`;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = /^Unknown option '([^']+)'/.exec(message)?.[1] ?? "this flag";
      throw usage(`${command.name} does not take ${flag}; ${takes}`, cause);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const arg = /^Unexpected argument '([^']*)'/.exec(message)?.[1] ?? "";
      throw usage(`${command.name}: unexpected argument ${arg}; ${takes}`, cause);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw usage(`${command.name}: ${message.split(". ")[0]}`, cause);
    }
    throw cause;
  }
}

/** The value of a required string flag, or a usage error naming it. */
export function need(command: string, flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v.length === 0) throw usage(`${command} needs --${name}`);
  return v;
}

/** The value of an optional string flag. */
export function optional(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

export { usage as usageError };
