#!/usr/bin/env node
import { runCli } from "./cli/index.ts";

/**
 * `control-plane init|serve|export|packet`: dispatches to one file per subcommand in cli/,
 * where the concrete objects are built. Logs are JSON lines on stderr.
 */
const code = await runCli(process.argv.slice(2));
if (code !== 0) process.exit(code);
