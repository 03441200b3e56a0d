import { createSigner, privateKeyFromPem } from "#protocol";
import { type Config, dataDirLayout, loadConfig } from "../config.ts";
import { jsonLogger } from "../logger.ts";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.ts";
import { type Flags, optional, usageError } from "./command.ts";
import { readText } from "./files.ts";

/** The config of a command that takes `--data-dir DIR | --config FILE` (plus overrides). */
export function commandConfig(
  command: string,
  flags: Flags,
  overrides: Record<string, unknown> = {},
): Config {
  const configFile = optional(flags, "config");
  const dataDir = optional(flags, "data-dir");
  if (!configFile && !dataDir) throw usageError(`${command} needs --data-dir or --config`);
  return loadConfig({
    ...(configFile ? { configFile } : {}),
    ...(dataDir ? { dataDir } : {}),
    overrides: { database_url: flags["database-url"], ...overrides },
  });
}

export function openStore(config: Config): Store {
  return config.store.kind === "postgres"
    ? openPostgresStore({
        connectionString: config.store.url,
        ...(config.store.schema ? { schema: config.store.schema } : {}),
      })
    : openSqliteStore(config.store.path ?? dataDirLayout(config.data_dir).sqlite);
}

/** JSON log lines on stderr (stdout carries the command's own output). */
export function stderrLogger(config: Config) {
  return jsonLogger((line) => process.stderr.write(line), config.log_level);
}

export function orderSigner(config: Config) {
  const files = dataDirLayout(config.data_dir);
  return createSigner(privateKeyFromPem(readText(files.orderKey, "order-signing key")));
}
