import { isCodedError } from "#protocol";
import type { Command } from "./command.ts";
import { parseFlags } from "./command.ts";
import { exportCommand } from "./export.ts";
import { initCommand } from "./init.ts";
import { operatorCommands } from "./operator.ts";
import { packetCommand } from "./packet.ts";
import { plannerQualifyCommand } from "./planner-qualify.ts";
import { serveCommand } from "./serve.ts";

/** The subcommands, one file each; `main.ts` only dispatches to them. */
export const COMMANDS: readonly Command[] = [
  initCommand,
  serveCommand,
  exportCommand,
  packetCommand,
  plannerQualifyCommand,
  ...operatorCommands,
];

export const USAGE = `usage:\n${COMMANDS.map((c) => `  ${c.usage}`).join("\n")}`;

export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs `control-plane <command> [flags]`. Exit codes: 0 done, 1 failed, 2 usage or
 * configuration error (the message, then the usage of the command or of all commands).
 */
export async function runCli(argv: readonly string[], out: CliOutput = processOutput) {
  // Commands are one word (`serve`) or two (`planner qualify`).
  const pair = argv.length > 1 ? `${argv[0]} ${argv[1]}` : undefined;
  const two = COMMANDS.find((c) => c.name === pair);
  const [name, ...args] = two ? [pair as string, ...argv.slice(2)] : argv;
  const command = two ?? COMMANDS.find((c) => c.name === name);
  try {
    if (name === undefined) {
      out.stderr(`${USAGE}\n`);
      return 2;
    }
    if (name === "--help" || name === "help") {
      out.stdout(`${USAGE}\n`);
      return 0;
    }
    if (!command) {
      out.stderr(`control-plane: unknown command ${name}\n${USAGE}\n`);
      return 2;
    }
    const flags = parseFlags(command, args);
    if (flags.help) {
      out.stdout(`usage:\n  ${command.usage}\n`);
      return 0;
    }
    await command.run(flags);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message) out.stderr(`control-plane: ${message}\n`);
    if (isCodedError(error, "usage") || isCodedError(error, "invalid_config")) {
      out.stderr(command ? `usage:\n  ${command.usage}\n` : `${USAGE}\n`);
      return 2;
    }
    return 1;
  }
}
