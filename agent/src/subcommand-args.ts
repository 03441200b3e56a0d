import { parseArgs } from "node:util";
import { describeError } from "./log.ts";

/**
 * The flags of a root subcommand (privileged-helper, restore-test): `--config` (default the
 * appliance's config file), `--help`, and one optional string flag of its own. Returns the parsed
 * values, or the exit code after printing the usage (0 for --help, 2 for a bad command line).
 */
export function subcommandArgs<F extends string>(
  argv: readonly string[],
  flag: F,
  help: string,
  required = false,
): ({ config: string } & Partial<Record<F, string>>) | number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string", default: "/etc/compliance-agent/config.json" },
        [flag]: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
    if (!values.help && required && values[flag] === undefined) {
      throw new Error(`--${flag} is required`);
    }
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n\n${help}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  return values as { config: string } & Partial<Record<F, string>>;
}
