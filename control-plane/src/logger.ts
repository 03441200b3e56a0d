import { pino } from "pino";

/**
 * Structured JSON logs, one object per line, written by pino. The field names are shared with
 * the agent's small logger: `time` (RFC 3339), `level` (a name), `msg`, `err` (type, message,
 * code, stack), and snake_case ids (`request_id`, `tenant_id`, `appliance_id`).
 *
 * Callers pass fields, never secrets; as a second line of defence the keys below are replaced
 * by "[redacted]" wherever they appear at the top level or one object down (e.g.
 * `headers.authorization`), so a token passed by mistake does not reach the log.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export const REDACTED_KEYS = [
  "password",
  "new_password",
  "token",
  "admin_token",
  "enrollment_token",
  "session_token",
  "csrf_token",
  "authorization",
  "cookie",
  "api_key",
  "apiKey",
  "secret",
  "totp_secret",
  "private_key",
  "privateKey",
  "keyPem",
  "key_pem",
] as const;

export const REDACTED = "[redacted]";

export function jsonLogger(write: (line: string) => void, minLevel: LogLevel = "info"): Logger {
  const logger = pino(
    {
      level: minLevel,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: REDACTED },
    },
    { write },
  );
  return {
    log(level, msg, fields) {
      logger[level](fields ?? {}, msg);
    },
  };
}

export const silentLogger: Logger = { log() {} };
