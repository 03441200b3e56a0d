import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

/**
 * The control plane's configuration: a strict JSON file (`--config`), or derived from the data
 * directory's layout (`--data-dir`), with command-line flags overriding either. Unknown keys
 * are refused with their path, so a typo never silently falls back to a default.
 */
export const Config = z.strictObject({
  data_dir: z.string().min(1),
  listen: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.int().min(0).max(65535).default(8443),
    })
    .default({ host: "127.0.0.1", port: 8443 }),
  store: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("sqlite"), path: z.string().optional() }),
      z.strictObject({
        kind: z.literal("postgres"),
        url: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL"),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/)
          .optional(),
      }),
    ])
    .default({ kind: "sqlite" }),
  tls: z.strictObject({ cert: z.string().optional(), key: z.string().optional() }).default({}),
  client_cert_days: z.int().min(1).max(3650).default(825),
  appliance_rate_limit: z
    .strictObject({ per_minute: z.int().min(1), burst: z.int().min(1) })
    .default({ per_minute: 120, burst: 60 }),
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export type Config = z.infer<typeof Config>;

/** Where things live in a data directory (created by `control-plane init`). */
export function dataDirLayout(dir: string) {
  const d = resolve(dir);
  return {
    dir: d,
    orderKey: join(d, "keys", "order-signing.key"),
    orderPub: join(d, "keys", "order-signing.pub.pem"),
    orderPubB64: join(d, "keys", "order-signing.pub.b64"),
    secretKey: join(d, "keys", "secret-box.key"),
    tlsCa: join(d, "tls", "ca.pem"),
    tlsCaKey: join(d, "tls", "ca.key"),
    tlsCert: join(d, "tls", "server.pem"),
    tlsKey: join(d, "tls", "server.key"),
    sqlite: join(d, "control-plane.sqlite"),
  };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(options: {
  configFile?: string;
  dataDir?: string;
  overrides?: Record<string, unknown>;
}): Config {
  let raw: Record<string, unknown> = {};
  if (options.configFile) {
    try {
      raw = JSON.parse(readFileSync(options.configFile, "utf8"));
    } catch (cause) {
      throw new ConfigError(
        `cannot read config ${options.configFile}: ${(cause as Error).message}`,
      );
    }
  }
  if (options.dataDir) raw = { ...raw, data_dir: options.dataDir };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    if (key === "port" || key === "host") {
      raw.listen = { ...(raw.listen as object | undefined), [key]: value };
    } else if (key === "database_url") {
      raw.store = { kind: "postgres", url: value };
    } else {
      raw[key] = value;
    }
  }
  const parsed = Config.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
